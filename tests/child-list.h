/* Every child program the tests start (see child.c), one WMT_CHILD(name) each;
 * the function is int child_NAME(const char *arg), defined in a test file. */
WMT_CHILD(exit_with)
