/* Every child program the tests start (see child.c), one WMT_CHILD(name) each;
 * the function is int child_NAME(const char *arg), defined in a test file. */
WMT_CHILD(exit_with)
WMT_CHILD(touch_prot_none)
WMT_CHILD(touch_past_eof)
WMT_CHILD(null_dereference)
WMT_CHILD(fault_twice_with_resethand)
WMT_CHILD(shm_reply)
