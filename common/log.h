/* Logging to standard error, one line per event, with a timestamp and level. */
#ifndef LOG_H
#define LOG_H

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;

/* The one global besides the stop flag: the level below which lines are dropped. */
extern log_level_t log_level;

/* Parses "error", "warn", "info", "debug"; returns 0 or -1. */
int log_parse_level(const char *s, log_level_t *out);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Start-up facts (listening addresses, readiness) that scripts and people wait for: printed
 * whatever the level, labelled INFO. */
void log_startup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A status block kept below the log lines on a terminal (the server's live view): every log
 * line is written above it, and the block is drawn again under the line in the same write.
 * text holds `lines` lines separated by '\n', without a final newline, each narrower than the
 * terminal so none wraps. NULL (or 0 lines) takes the block off the screen. Thread-safe. */
void log_footer_set(const char *text, int lines);
/* The block is no longer where it was drawn: others wrote below it while the process was
 * stopped (Ctrl-Z, then fg: the job-control shell's lines). The next frame is drawn from the
 * cursor, not over the rows the old block took, which now hold those lines. Async-signal-safe:
 * for a SIGCONT handler. */
void log_footer_lost(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_level >= LOG_INFO)                                                                 \
            log_msg(LOG_INFO, __VA_ARGS__);                                                        \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_level >= LOG_DEBUG)                                                                \
            log_msg(LOG_DEBUG, __VA_ARGS__);                                                       \
    } while (0)

/* For bugs only: logs the failed condition and aborts. */
#define FTP_ASSERT(c)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            log_assert_fail(#c, __FILE__, __LINE__);                                               \
    } while (0)
_Noreturn void log_assert_fail(const char *cond, const char *file, int line);

#endif
