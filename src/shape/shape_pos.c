/* The position language and the step words (shape_step.h). Being written. */
#include <stdio.h>

#include "shape_step.h"

int
shape_pos_parse(const char *text, size_t len, struct shape_pos *pos, char *err, size_t errlen)
{
    (void)text;
    (void)len;
    (void)pos;
    snprintf(err, errlen, "not implemented");
    return -1;
}

void
shape_pos_format(const struct shape_pos *pos, char *out, size_t cap)
{
    (void)pos;
    snprintf(out, cap, "?");
}

int
shape_step_parse(const char *word, struct shape_step *step, char *err, size_t errlen)
{
    (void)word;
    (void)step;
    snprintf(err, errlen, "not implemented");
    return -1;
}

void
shape_step_format(const struct shape_step *step, char *out, size_t cap)
{
    (void)step;
    snprintf(out, cap, "?");
}
