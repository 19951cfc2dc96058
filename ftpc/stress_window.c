/* The measured window of a stress run (see stress_window.h). */
#include "stress_window.h"

#include <sys/resource.h>

#include "stress_client.h"

stress_cpu stress_cpu_now(void)
{
    stress_cpu c = {0, 0};
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        c.user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        c.sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    return c;
}

stress_mark stress_mark_now(void)
{
    stress_mark m = {stress_now_us(), stress_cpu_now()};
    return m;
}

stress_mark stress_window_end(stress_mark stop, stress_mark deadline, stress_mark counted,
                              stress_mark now)
{
    /* An interrupt in the grace after the deadline is no new end: the earlier counts. */
    stress_mark end = stop;
    if (end.us == 0 || (deadline.us != 0 && deadline.us < end.us))
        end = deadline;
    if (end.us == 0)
        return now;
    return counted.us > end.us ? counted : end;
}

stress_cpu stress_cpu_between(stress_cpu a, stress_cpu b)
{
    stress_cpu d = {b.user_s - a.user_s, b.sys_s - a.sys_s};
    if (d.user_s < 0)
        d.user_s = 0;
    if (d.sys_s < 0)
        d.sys_s = 0;
    return d;
}
