/*
 * A main() for the fuzz targets when they are built without libFuzzer: run
 * LLVMFuzzerTestOneInput once over every file given, and over every file of
 * each directory given (sorted by name, hidden files skipped). Each input
 * is passed in a buffer of exactly its size, so an over-read is as visible
 * to a sanitizer or valgrind as it is under libFuzzer. A target signals a
 * finding by aborting; this program fails when a directory holds no input
 * or cannot be read.
 */
#define _POSIX_C_SOURCE 200809L
/* 32-bit programs: readdir and stat fail with EOVERFLOW on 64-bit inode
 * numbers and directory offsets without this. */
#define _FILE_OFFSET_BITS 64

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    free(buf);
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file of dir; the number run, or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    long count = 0;

    if (d == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    /* errno cleared before each readdir: NULL with errno set is an error */
    while ((void)(errno = 0), (e = readdir(d)) != NULL) {
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path;

        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown;

            cap = cap ? 2 * cap : 64;
            grown = realloc(names, cap * sizeof *names);
            if (grown == NULL)
                abort();
            names = grown;
        }
        path = malloc(len);
        if (path == NULL)
            abort();
        snprintf(path, len, "%s/%s", dir, e->d_name);
        names[n++] = path;
    }
    /* A read error (such as EOVERFLOW: 64-bit directory offsets read by a
     * 32-bit program without _FILE_OFFSET_BITS=64) must not pass for an
     * empty directory. */
    if (errno != 0) {
        fprintf(stderr, "replay: cannot read directory %s: %s\n", dir,
                strerror(errno));
        count = -1;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
        struct stat st;

        if (stat(names[i], &st) != 0) {
            fprintf(stderr, "replay: cannot stat %s: %s\n", names[i],
                    strerror(errno));
            count = -1;
        } else if (S_ISREG(st.st_mode)) {
            if (run_file(names[i]) < 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    if (count == 0) {
        fprintf(stderr, "replay: no inputs in %s\n", dir);
        count = -1;
    }
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replayed %ld inputs without a finding\n", total);
    return 0;
}
