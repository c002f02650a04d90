/* placeholder, being written */
typedef int wd_placeholder_session;
