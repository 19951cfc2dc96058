/* Standard descriptors that a program was started without.
 *
 * A descriptor 0, 1 or 2 that is closed at start-up is the number the next open(2) or
 * socket(2) returns: messages meant for standard error, or bytes meant for standard output,
 * would then go into an FTP connection as commands, or into a file being written.
 */
#ifndef STDFD_H
#define STDFD_H

/* Gives each closed standard descriptor /dev/null, opened so that its own use fails as on a
 * closed one (EBADF): write-only for 0, read-only for 1 and 2. Call before any other file or
 * socket is opened. Returns 0, or -1 with errno when /dev/null cannot be opened. */
int stdfd_reserve(void);

#endif
