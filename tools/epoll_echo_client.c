/* Reference echo client in C (epoll, one thread): the yardstick concbench's load generator is compared with
 * (`concbench ceiling`, `concbench clients`). Every echoed byte is checked with memcmp.
 *
 * usage: epoll_echo_client HOST PORT CONNECTIONS SIZE WARMUP_S DURATION_S [--rate R] [--churn]
 *   closed loop (default): each connection sends its next message as soon as the echo is whole;
 *   --rate R: open loop, R messages/s in total on a fixed timetable per connection (wrk2's way): a reply that comes
 *             after the connection's next slot makes that send late, and its latency counts from the slot
 *             (corrected); uncorrected latency counts from the actual send;
 *   --churn:  a new connection per message: connect, send, the whole echo, the server's close, again.
 * prints one JSON line: {"requests": N, "window_s": S, "errors": E, "first_error": "...",
 *   "loadgen_core_busy_pct": P (the busy share of the core it runs on, from /proc/stat, over the window),
 *   open loop also "offered_rate", "achieved_ratio", "latency_p50_s", "latency_p99_s", "latency_p99_9_s",
 *   "latency_max_s", "latency_uncorrected_p50_s", "latency_uncorrected_p99_s"} */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* busy and total jiffies of one core, from /proc/stat */
static void read_core(int cpu, long long *busy, long long *total) {
    char name[16], line[512];
    snprintf(name, sizeof name, "cpu%d ", cpu);
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, strlen(name)) != 0) continue;
        long long v[10] = {0};
        sscanf(line + strlen(name), "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
        for (int k = 0; k < 8; k++) *total += v[k];          /* guest time is already in user */
        *busy = *total - v[3] - v[4];                          /* less idle and iowait */
        break;
    }
    fclose(f);
}

typedef struct { int64_t *v; size_t n, cap; } vec;
static void push(vec *a, int64_t x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1 << 16;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v) { fprintf(stderr, "out of memory\n"); exit(1); }
    }
    a->v[a->n++] = x;
}
static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
static double pct(vec *a, double q) {          /* a sorted; nearest rank */
    if (!a->n) return 0.0;
    size_t k = (size_t)(q * (double)a->n);
    if (k >= a->n) k = a->n - 1;
    return a->v[k] / 1e9;
}

/* open loop: a binary heap of (slot time, connection) */
typedef struct { int64_t due; int conn; } slot;
static slot *heap;
static int heap_n;
static void heap_push(int64_t due, int conn) {
    int i = heap_n++;
    while (i > 0 && heap[(i - 1) / 2].due > due) { heap[i] = heap[(i - 1) / 2]; i = (i - 1) / 2; }
    heap[i] = (slot){due, conn};
}
static slot heap_pop(void) {
    slot top = heap[0], last = heap[--heap_n];
    int i = 0;
    for (;;) {
        int m = 2 * i + 1;
        if (m >= heap_n) break;
        if (m + 1 < heap_n && heap[m + 1].due < heap[m].due) m++;
        if (heap[m].due >= last.due) break;
        heap[i] = heap[m];
        i = m;
    }
    if (heap_n) heap[i] = last;
    return top;
}

enum { IDLE, INFLIGHT, CONNECTING, CLOSING };
typedef struct { int fd, got, state; int64_t due, intended, sent; } conn_t;

static long errors;
static char first_error[200];
static void error(const char *what) {
    if (!errors++) snprintf(first_error, sizeof first_error, "%s", what);
}

static struct sockaddr_in addr;
static int ep, size;
static char *msg, *buf;
static conn_t *c;

static int churn_connect(int i) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    if (s < 0) { error(strerror(errno)); return -1; }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        error(strerror(errno));
        close(s);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    c[i] = (conn_t){.fd = s, .state = CONNECTING};
    return 0;
}

static void drop(int i) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c[i].fd, NULL);
    close(c[i].fd);
    c[i].fd = -1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE WARMUP_S DURATION_S [--rate R] [--churn]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[2]), n = atoi(argv[3]), churn = 0;
    size = atoi(argv[4]);
    double warmup = atof(argv[5]), duration = atof(argv[6]), rate = 0.0;
    for (int a = 7; a < argc; a++) {
        if (!strcmp(argv[a], "--churn")) churn = 1;
        else if (!strcmp(argv[a], "--rate") && a + 1 < argc) rate = atof(argv[++a]);
        else { fprintf(stderr, "unknown argument %s\n", argv[a]); return 2; }
    }
    if (n <= 0 || size <= 0 || duration <= 0 || rate < 0 || (churn && rate > 0)) {
        fprintf(stderr, "bad arguments (churn is closed loop only)\n");
        return 2;
    }
    prctl(PR_SET_TIMERSLACK, 1UL);        /* open loop: wake at the slot, not up to 50 us after it */
    msg = malloc(size), buf = malloc(65536);
    c = calloc(n, sizeof *c);
    heap = calloc(n, sizeof *heap);
    for (int i = 0; i < size; i++) msg[i] = (char)(i * 7 + 3);
    addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
    ep = epoll_create1(0);
    int64_t interval = rate > 0 ? (int64_t)(n * 1e9 / rate) : 0;
    for (int i = 0; i < n; i++) {
        if (churn) { churn_connect(i); continue; }
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        c[i].fd = s;
        if (!rate) { c[i].state = INFLIGHT; send(s, msg, size, MSG_NOSIGNAL); }
    }
    int64_t t0 = now_ns();
    if (rate) {                           /* each connection's first slot, spread so the total rate is even */
        for (int i = 0; i < n; i++) { c[i].due = t0 + 1000000 + interval * i / n; heap_push(c[i].due, i); }
    }
    long count = 0, start_count = 0;
    int64_t window_start = t0 + (int64_t)(warmup * 1e9), window_end = window_start + (int64_t)(duration * 1e9);
    int64_t started_at = 0;
    int measuring = 0, cpu = sched_getcpu();
    long long busy0 = 0, total0 = 0, busy1, total1;
    vec lat = {0}, unc = {0};
    struct epoll_event events[256];
    for (;;) {
        int k;
        if (rate) {
            int64_t wait = heap_n ? heap[0].due - now_ns() : 100000000;
            if (wait < 0) wait = 0;
            if (wait > 100000000) wait = 100000000;
            struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
            k = epoll_pwait2(ep, events, 256, &ts, NULL);
        } else {
            k = epoll_wait(ep, events, 256, 100);
        }
        for (int e = 0; e < k; e++) {
            int i = events[e].data.u32;
            if (c[i].fd < 0) continue;
            if (c[i].state == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { error(strerror(err)); drop(i); churn_connect(i); continue; }
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
                epoll_ctl(ep, EPOLL_CTL_MOD, c[i].fd, &ev);
                c[i].state = INFLIGHT;
                send(c[i].fd, msg, size, MSG_NOSIGNAL);
                continue;
            }
            ssize_t r = recv(c[i].fd, buf, 65536, 0);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (churn && c[i].state == CLOSING) {
                if (r == 0) { count++; drop(i); churn_connect(i); }     /* the echo, then the server's close */
                else { error(r < 0 ? strerror(errno) : "bytes after the whole echo"); drop(i); churn_connect(i); }
                continue;
            }
            if (r <= 0 || c[i].state != INFLIGHT || c[i].got + r > size || memcmp(buf, msg + c[i].got, r) != 0) {
                error(r == 0 ? "server closed the connection" : r < 0 ? strerror(errno) : "wrong bytes");
                drop(i);
                if (churn) churn_connect(i);
                continue;
            }
            c[i].got += r;
            if (c[i].got < size) continue;
            c[i].got = 0;
            if (churn) { c[i].state = CLOSING; continue; }
            if (!rate) { count++; send(c[i].fd, msg, size, MSG_NOSIGNAL); continue; }
            int64_t t = now_ns();
            count++;
            if (measuring) { push(&lat, t - c[i].intended); push(&unc, t - c[i].sent); }
            c[i].due += interval;
            if (c[i].due <= t) {              /* the reply made us miss the slot: send now, count from the slot */
                c[i].intended = c[i].due, c[i].sent = t;
                send(c[i].fd, msg, size, MSG_NOSIGNAL);
            } else {
                c[i].state = IDLE;
                heap_push(c[i].due, i);
            }
        }
        int64_t t = now_ns();
        while (rate && heap_n && heap[0].due <= t) {
            slot s = heap_pop();
            if (c[s.conn].fd < 0) continue;
            c[s.conn].state = INFLIGHT, c[s.conn].intended = s.due, c[s.conn].sent = t;
            send(c[s.conn].fd, msg, size, MSG_NOSIGNAL);
        }
        if (!measuring && t >= window_start) {
            measuring = 1, start_count = count, started_at = t, window_end = t + (int64_t)(duration * 1e9);
            read_core(cpu, &busy0, &total0);
        }
        if (measuring && t >= window_end) {
            read_core(cpu, &busy1, &total1);
            double window = (t - started_at) / 1e9, done = (double)(count - start_count);
            double busy = total1 > total0 ? 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0) : 0.0;
            printf("{\"requests\": %ld, \"window_s\": %.6f, \"errors\": %ld, \"first_error\": \"%s\", "
                   "\"loadgen_core_busy_pct\": %.2f", count - start_count, window, errors, first_error, busy);
            if (rate) {
                qsort(lat.v, lat.n, sizeof *lat.v, cmp64);
                qsort(unc.v, unc.n, sizeof *unc.v, cmp64);
                printf(", \"offered_rate\": %.1f, \"achieved_ratio\": %.6f, \"latency_p50_s\": %.9f, "
                       "\"latency_p99_s\": %.9f, \"latency_p99_9_s\": %.9f, \"latency_max_s\": %.9f, "
                       "\"latency_uncorrected_p50_s\": %.9f, \"latency_uncorrected_p99_s\": %.9f", rate,
                       done / window / rate, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 0.999),
                       lat.n ? lat.v[lat.n - 1] / 1e9 : 0.0, pct(&unc, 0.5), pct(&unc, 0.99));
            }
            printf("}\n");
            return 0;
        }
    }
}
