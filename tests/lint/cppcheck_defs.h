/* cppcheck_defs: macros cppcheck must know to parse the sources (it does not read the system
 * headers). Force-included by tests/lint/run.sh; never compiled. */
#define timercmp(a, b, CMP)                                                                        \
    (((a)->tv_sec == (b)->tv_sec) ? ((a)->tv_usec CMP(b)->tv_usec) : ((a)->tv_sec CMP(b)->tv_sec))
