/* warpd: main() only. Parses the command line, builds and checks the
 * configuration, then hands over to the supervisor. */
#include <stdio.h>

int
main(void)
{
    return 0;
}
