/* `scorch inspect [--dump] PATH...`: read segment/block objects back, print what they hold and
 * verify every checksum (codec/block.h does the work). A PATH that is a directory is searched
 * recursively for objects named block.bin, in sorted order. Exit 0 when every object verifies,
 * 1 when one does not, 2 on a usage error. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/block.h"
#include "net/inspect.h"

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    if (fseek(f, 0, SEEK_END) != 0) goto fail;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto fail;
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    if (n && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        goto fail;
    }
    fclose(f);
    *out = buf;
    *len = (size_t)n;
    return 0;
fail:;
    int e = errno ? errno : EIO;
    fclose(f);
    return -e;
}

static int inspect_file(const char *path, int dump)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    if (rc < 0) {
        fprintf(stderr, "scorch inspect: %s: %s\n", path, strerror(-rc));
        return 1;
    }
    printf("object %s (%zu bytes)\n", path, len);
    sc_err_t err;
    sc_err_clear(&err);
    rc = sc_block_inspect(buf, len, dump, stdout, &err);
    free(buf);
    if (rc < 0) {
        fprintf(stderr, "scorch inspect: %s: %s\n", path, sc_err_message(&err, rc));
        return 1;
    }
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int inspect_dir(const char *dir, int dump)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "scorch inspect: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                failed |= inspect_dir(path, dump);
            } else if (strcmp(name, "block.bin") == 0) {
                failed |= inspect_file(path, dump);
            }
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

int sc_inspect_main(int argc, char **argv)
{
    int dump = 0, paths = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0 || strcmp(argv[i], "-dump") == 0) {
            dump = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: scorch inspect [--dump] PATH...\n"
                   "Print each object's header, datasets, series, profile types, time ranges and\n"
                   "section sizes, verifying every checksum. --dump also prints the samples as\n"
                   "folded stacks. A directory is searched recursively for block.bin objects.\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "scorch inspect: unknown flag %s (see scorch inspect --help)\n",
                    argv[i]);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        paths++;
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "scorch inspect: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            failed |= inspect_dir(argv[i], dump);
        } else {
            failed |= inspect_file(argv[i], dump);
        }
    }
    if (!paths) {
        fprintf(stderr, "usage: scorch inspect [--dump] PATH...\n");
        return 2;
    }
    fflush(stdout);
    return failed;
}
