/* How busy the machine's CPUs are, from /proc/stat.
 *
 * A reading is the CPU time every CPU together has spent since boot, busy and in all, in
 * USER_HZ ticks; two readings give the share of the CPUs that was busy in between. Time
 * another guest took from a virtual CPU (steal) counts as busy: it was not ours to use.
 */
#ifndef CPUSTAT_H
#define CPUSTAT_H

#include <stdbool.h>

typedef struct cpustat {
    unsigned long long busy;
    unsigned long long total;
} cpustat;

/* Parses the text of /proc/stat (its first line, "cpu  user nice system idle iowait irq
 * softirq steal ..."; kernels before 2.6.11 stop after fewer fields). */
bool cpustat_parse(const char *text, cpustat *out);
/* Reads the whole-machine line from fd, an open /proc/stat (read from its start each time). */
bool cpustat_read(int fd, cpustat *out);
/* Busy CPU-seconds between two readings (0 if the counters went backwards). */
double cpustat_busy_seconds(const cpustat *before, const cpustat *after);

#endif
