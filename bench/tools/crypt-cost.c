/* crypt-cost: what one crypt(3) password check costs on this machine.
 *
 * usage: crypt-cost HASH PASSWORD [N] [THREADS]
 *
 * Checks PASSWORD against HASH with crypt_rn() N times on one thread (each call timed),
 * then N times on each of THREADS threads at once (wall time), and prints one JSON line:
 * the single-thread median and mean in ms, and the parallel throughput. Exits 1 if the
 * password does not match the hash.
 */
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_hash, *g_pass;
static int g_n;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check_once(struct crypt_data *cd)
{
    const char *out = crypt_rn(g_pass, g_hash, cd, (int)sizeof *cd);
    return out != NULL && strcmp(out, g_hash) == 0;
}

static void *worker(void *arg)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    int *ok = arg;
    if (cd == NULL) {
        *ok = 0;
        return NULL;
    }
    for (int i = 0; i < g_n; i++)
        *ok &= check_once(cd);
    free(cd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: crypt-cost HASH PASSWORD [N] [THREADS]\n");
        return 2;
    }
    g_hash = argv[1];
    g_pass = argv[2];
    g_n = argc > 3 ? atoi(argv[3]) : 20;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    if (g_n < 1 || g_n > 10000 || threads < 1 || threads > 64) {
        fprintf(stderr, "crypt-cost: N must be 1..10000, THREADS 1..64\n");
        return 2;
    }

    struct crypt_data *cd = calloc(1, sizeof *cd);
    double *t = calloc((size_t)g_n, sizeof *t);
    if (cd == NULL || t == NULL)
        return 2;
    if (!check_once(cd)) { /* also warms up */
        fprintf(stderr, "crypt-cost: password does not match the hash\n");
        return 1;
    }
    double sum = 0;
    for (int i = 0; i < g_n; i++) {
        double t0 = now_s();
        check_once(cd);
        t[i] = now_s() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)g_n, sizeof *t, cmp_double);
    double median = t[g_n / 2];

    pthread_t tid[64];
    int ok[64];
    double p0 = now_s();
    for (int i = 0; i < threads; i++) {
        ok[i] = 1;
        if (pthread_create(&tid[i], NULL, worker, &ok[i]) != 0)
            return 2;
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double wall = now_s() - p0;

    char id[16] = "";
    if (g_hash[0] == '$') {
        size_t k = strcspn(g_hash + 1, "$");
        if (k < sizeof id)
            memcpy(id, g_hash + 1, k);
    }
    printf("{\"hash_id\": \"%s\", \"n\": %d, \"single_median_ms\": %.3f, \"single_mean_ms\": %.3f, "
           "\"single_min_ms\": %.3f, \"single_max_ms\": %.3f, \"parallel_threads\": %d, "
           "\"parallel_wall_s\": %.4f, \"parallel_hashes_per_s\": %.1f}\n",
           id, g_n, median * 1e3, sum / g_n * 1e3, t[0] * 1e3, t[g_n - 1] * 1e3, threads, wall,
           (double)g_n * threads / wall);
    free(t);
    free(cd);
    return 0;
}
