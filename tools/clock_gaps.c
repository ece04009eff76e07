/* How long a core is taken away from a task that only reads the clock: the largest gap between two consecutive
 * clock readings in each 100 ms, for 4 s, in µs (one line). On a quiet core every gap is well under 1 µs; larger
 * ones are the machine's (interrupts, kernel threads, the hypervisor). docs/load-generator.md quotes it.
 * usage: gcc -O2 -o build/clock_gaps tools/clock_gaps.c && taskset -c 1 build/clock_gaps */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(void) {
    int64_t prev = now_ns(), chunk = prev, largest = 0;
    for (int chunks = 0; chunks < 40;) {
        int64_t t = now_ns();
        if (t - prev > largest) largest = t - prev;
        prev = t;
        if (t - chunk >= 100000000) {
            printf("%lld ", (long long)(largest / 1000));
            largest = 0, chunk = t, chunks++;
        }
    }
    printf("\n");
    return 0;
}
