/* Replay driver for fuzz targets in ordinary builds: runs LLVMFuzzerTestOneInput over every file
 * under the paths given as arguments (files, or directories walked recursively), then prints how
 * many inputs ran. The empty input always runs first, so a target with no seeds is still
 * exercised. Each input is read into a buffer of exactly its size, so a sanitizer build catches
 * reads past its end. Exits 0 when every input ran; 1 when a path cannot be read (a missing seed
 * directory is a broken test, not an empty one). A failing input crashes the target itself. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, size_t *count)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        fclose(fp);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, fp) != size) {
        fprintf(stderr, "replay: %s: cannot read %zu bytes\n", path, size);
        free(buf);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    (*count)++;
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path, count);
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort); /* sorted: the same order on every run */
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            size_t len = strlen(path) + strlen(name) + 2;
            char *sub = malloc(len);
            if (!sub) {
                rc = -1;
            } else {
                snprintf(sub, len, "%s/%s", path, name);
                rc = run_path(sub, count);
                free(sub);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    static const uint8_t empty[1];
    LLVMFuzzerTestOneInput(empty, 0);
    count++;
    for (int i = 1; i < argc; i++) {
        if (run_path(argv[i], &count) < 0) return 1;
    }
    printf("replay: %zu inputs ran (the empty input and %zu files)\n", count, count - 1);
    return 0;
}
