/* Reference closed-loop echo client in C (epoll, one thread): the yardstick `concbench ceiling`
 * compares concbench's Python load generator with. Every echoed byte is checked with memcmp.
 * usage: epoll_echo_client HOST PORT CONNECTIONS SIZE WARMUP_S DURATION_S
 * prints one JSON line: {"requests": N, "window_s": S, "errors": E} */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE WARMUP_S DURATION_S\n", argv[0]); return 2; }
    int port = atoi(argv[2]), n = atoi(argv[3]), size = atoi(argv[4]);
    double warmup = atof(argv[5]), duration = atof(argv[6]);
    char *msg = malloc(size), *buf = malloc(65536);
    int *got = calloc(n, sizeof *got), *fds = calloc(n, sizeof *fds);
    for (int i = 0; i < size; i++) msg[i] = (char)(i * 7 + 3);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        fds[i] = s;
        send(s, msg, size, MSG_NOSIGNAL);
    }
    long count = 0, start_count = 0, errors = 0;
    double t0 = now(), window_start = t0 + warmup, window_end = window_start + duration, started_at = 0;
    int measuring = 0;
    struct epoll_event events[256];
    for (;;) {
        int k = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < k; e++) {
            int i = events[e].data.u32;
            ssize_t r = recv(fds[i], buf, 65536, 0);
            if (r <= 0 || got[i] + r > size || memcmp(buf, msg + got[i], r) != 0) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                close(fds[i]);
                continue;
            }
            got[i] += r;
            if (got[i] == size) {
                got[i] = 0;
                count++;
                send(fds[i], msg, size, MSG_NOSIGNAL);
            }
        }
        double t = now();
        if (!measuring && t >= window_start) { measuring = 1; start_count = count; started_at = t; }
        if (measuring && t >= window_end) {
            printf("{\"requests\": %ld, \"window_s\": %.6f, \"errors\": %ld}\n", count - start_count, t - started_at, errors);
            return 0;
        }
    }
}
