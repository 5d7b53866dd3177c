/* Shared by the loader harnesses: the loaders take a path, so each input is
 * written to a file private to this process first. */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: check failed at line %d: %s\n", __FILE__, __LINE__, #cond);       \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* "<dir>/tg_fuzz_<pid>_<tag>", in /dev/shm when there is one (no disk I/O). */
static const char *fuzz_path(const char *tag, char *buf, size_t n)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, n, "%s/tg_fuzz_%ld_%s", dir, (long)getpid(), tag);
    return buf;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);
}

#endif
