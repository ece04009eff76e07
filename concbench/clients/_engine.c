/* concbench.clients._engine: the load generator's hot path in C (epoll, one thread, the GIL released).
 *
 * It owns connecting, sending, receiving, framing, verifying, timestamping and recording every
 * exchange of one load run, in every mode of concbench.clients.loadgen (closed loop, open loop, churn).
 * It knows no scenario: it gets the ring of (request, expected reply) exchanges as data, and for
 * framed replies (HTTP) a Python callable judging a reply it has not seen before (with the GIL).
 * Planning, phases' meaning, results and evidence stay in Python (concbench/clients/native_engine.py).
 * The per-reply path (on_readable and what it inlines) is kept short: one recv, one clock reading, one
 * memcmp, one send; how the loop waits (polling before sleeping) is explained at wait_events.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { K_MISMATCH, K_CLOSED, K_RESET, K_TIMEOUT, K_CONNECT, N_KINDS };
static const char *KIND_NAMES[N_KINDS] = {"mismatch", "closed", "reset", "timeout", "connect"};

enum { ST_DEAD, ST_CONNECTING, ST_IDLE, ST_INFLIGHT, ST_PARKED, ST_WAITING };

#define RECV_SIZE 65536
#define MAX_FRAMED_REPLY (16 * 1024 * 1024)   /* a framed reply larger than this is a mismatch */
#define GOOD_CACHE 8                           /* framed replies that passed the Python check, kept */
#define CONNECT_LIMIT 256                      /* connects in progress at once (as the Python engine) */
#define TIMER_TOKEN UINT32_MAX

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define COLD __attribute__((cold, noinline))
#define HOT_INLINE inline __attribute__((always_inline))

typedef struct { int64_t *v; size_t n, cap; } vec;

static COLD int vec_grow_push(vec *a, int64_t x) {
    size_t cap = a->cap ? a->cap * 2 : 65536;
    int64_t *v = realloc(a->v, cap * sizeof *v);
    if (!v) return -1;
    a->v = v, a->cap = cap;
    a->v[a->n++] = x;
    return 0;
}

static inline int vec_push(vec *a, int64_t x) {
    if (unlikely(a->n == a->cap)) return vec_grow_push(a, x);
    a->v[a->n++] = x;
    return 0;
}

/* one exchange of the ring, as raw bytes (the ring's bytes objects are kept alive by the call) */
typedef struct { const char *req, *exp; size_t req_len, exp_len; } exchange_t;

typedef struct {             /* the fields of the per-reply path first: one cache line */
    int fd, state;
    size_t index;            /* ring position of the exchange in flight (or last sent) */
    size_t received;         /* echo: bytes of the expected reply verified so far */
    size_t write_off;        /* bytes of the request already written */
    int64_t sent_at, intended_at;
    int events, completed;
    long served;             /* verified replies */
    int64_t due, started_at, deadline;
    int replacement;
    char *pending; size_t pending_len, pending_cap;   /* framed replies */
} conn_t;

typedef struct { int64_t due; int conn; } slot_t;

typedef struct {
    /* plan */
    struct sockaddr_storage addr; socklen_t addrlen;
    int nconn, open_loop, poisson, churn;
    double warmup_s, duration_s, timeout_s, connect_timeout_s, rate;
    exchange_t *ring; size_t ring_len;
    PyObject *problem, *on_event;      /* borrowed */
    size_t max_head;
    /* state */
    int ep, tfd; int64_t timer_armed;
    int use_pwait2;                    /* open loop: wake for the next slot by epoll_pwait2's ns timeout */
    conn_t *c;
    int sending, stop, py_failed;
    PyThreadState *ts;
    vec lat, unc, late;
    long errors[N_KINDS];
    char first_error[512];
    long reconnects, max_reconnects;
    slot_t *heap; size_t heap_n, heap_cap;
    int64_t interval_ns; uint64_t rng;
    char *rbuf;
    char *good[GOOD_CACHE]; size_t good_len[GOOD_CACHE]; int good_next;
    int connecting;
    int64_t spin_ns;                   /* before sleeping, poll for events this long (0: never) */
    int spin_hit;                      /* the last idle spell ended within spin_ns: poll again next time */
    int64_t spin_paused_until;         /* others wanted the core while we polled: no polling before then */
    int64_t idle_cpu_ns;               /* CPU time spent polling with nothing to do: idle, not load-generator work */
} engine_t;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static COLD void count_error(engine_t *e, int kind, const char *fmt, ...) {
    e->errors[kind]++;
    if (!e->first_error[0]) {
        int at = snprintf(e->first_error, sizeof e->first_error, "%s: ", KIND_NAMES[kind]);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->first_error + at, sizeof e->first_error - at, fmt, ap);
        va_end(ap);
    }
}

/* Python calls from the loop: the GIL is taken for the call only. */
static void call_event(engine_t *e, const char *name) {
    if (e->on_event == Py_None || e->py_failed) return;
    PyEval_RestoreThread(e->ts);
    PyObject *r = PyObject_CallFunction(e->on_event, "s", name);
    if (!r) e->py_failed = 1, e->stop = 1; else Py_DECREF(r);
    e->ts = PyEval_SaveThread();
}

/* -1: the check raised (run stops), 0: good, 1: bad (detail filled) */
static int call_problem(engine_t *e, const char *msg, size_t len, char *detail, size_t detail_size) {
    int verdict = -1;
    PyEval_RestoreThread(e->ts);
    PyObject *r = PyObject_CallFunction(e->problem, "y#", msg, (Py_ssize_t)len);
    if (r) {
        if (r == Py_None) verdict = 0;
        else {
            PyObject *s = PyObject_Str(r);
            const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
            snprintf(detail, detail_size, "%s", text ? text : "reply rejected");
            if (!text) PyErr_Clear();
            Py_XDECREF(s);
            verdict = 1;
        }
        Py_DECREF(r);
    }
    if (verdict < 0) e->py_failed = 1, e->stop = 1;
    e->ts = PyEval_SaveThread();
    return verdict;
}

/* --- the open-loop timetable: a binary heap of (due, connection) ----------------------------- */
static void heap_push(engine_t *e, int64_t due, int conn) {
    if (e->heap_n == e->heap_cap) {      /* stale slots of replaced connections can pile up */
        slot_t *h = realloc(e->heap, 2 * e->heap_cap * sizeof *h);
        if (!h) { e->stop = 1; return; }
        e->heap = h, e->heap_cap *= 2;
    }
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (e->heap[p].due <= due) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i].due = due, e->heap[i].conn = conn;
}

static slot_t heap_pop(engine_t *e) {
    slot_t top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t md = last.due;
        if (l < n && e->heap[l].due < md) m = l, md = e->heap[l].due;
        if (r < n && e->heap[r].due < md) m = r;
        if (m == i) break;
        e->heap[i] = e->heap[m];
        i = m;
    }
    if (n) e->heap[i] = last;
    return top;
}

static int64_t next_gap(engine_t *e) {
    if (!e->poisson) return e->interval_ns;
    /* splitmix64 -> uniform (0, 1] -> exponential gap */
    uint64_t z = (e->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    double u = ((z >> 11) + 1.0) / 9007199254740993.0;
    return (int64_t)(-log(u) * (double)e->interval_ns);
}

/* --- connections -------------------------------------------------------------------------- */
static void set_events(engine_t *e, int i, int events) {
    conn_t *c = &e->c[i];
    if (c->events == events) return;
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};
    epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void close_conn(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    if (c->fd >= 0) {
        if (c->state == ST_CONNECTING) e->connecting--;
        epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = ST_DEAD;
    c->sent_at = 0;
    c->pending_len = 0;
    c->received = 0;
}

static int start_connect(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    int fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { count_error(e, K_CONNECT, "socket(): %s", strerror(errno)); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* concbench.fairness */
    if (connect(fd, (struct sockaddr *)&e->addr, e->addrlen) < 0 && errno != EINPROGRESS) {
        count_error(e, K_CONNECT, "connect(): %s", strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->events = EPOLLOUT;
    c->received = c->write_off = c->pending_len = 0;
    c->sent_at = 0;
    c->started_at = now_ns();
    c->deadline = c->started_at + (int64_t)(e->connect_timeout_s * 1e9);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
    e->connecting++;
    return 0;
}

static COLD void fail(engine_t *e, int i, int kind, const char *detail);

/* write what is left of the request after a send() that returned w (errno err): partial writes,
 * EINTR, EAGAIN (EPOLLOUT armed) and errors (the connection fails). 0 ok, -1 failed (closed). */
static COLD int flush_rest(engine_t *e, int i, ssize_t w, int err) {
    conn_t *c = &e->c[i];
    const exchange_t *x = &e->ring[c->index];
    for (;;) {
        if (w > 0) c->write_off += (size_t)w;
        else if (w < 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
            set_events(e, i, EPOLLIN | EPOLLOUT);
            return 0;
        } else if (w < 0 && err != EINTR) {
            char detail[160];
            snprintf(detail, sizeof detail, "connection lost: %s", strerror(err));
            fail(e, i, err == EPIPE || err == ECONNRESET ? K_RESET : K_CLOSED, detail);
            return -1;
        }
        if (c->write_off >= x->req_len) break;
        w = send(c->fd, x->req + c->write_off, x->req_len - c->write_off, MSG_NOSIGNAL);
        err = errno;
    }
    if (c->events != EPOLLIN) set_events(e, i, EPOLLIN);
    return 0;
}

/* write what is left of the request; 0 ok (maybe partly, EPOLLOUT armed), -1 failed (closed).
 * The usual case, the whole request in one send(), stays inline. */
static HOT_INLINE int flush_request(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    const exchange_t *x = &e->ring[c->index];
    size_t left = x->req_len - c->write_off;
    if (unlikely(left == 0)) return flush_rest(e, i, 0, 0);
    ssize_t w = send(c->fd, x->req + c->write_off, left, MSG_NOSIGNAL);
    if (unlikely((size_t)w != left)) return flush_rest(e, i, w, errno);
    c->write_off = x->req_len;
    if (unlikely(c->events != EPOLLIN)) set_events(e, i, EPOLLIN);
    return 0;
}

/* send connection i's next exchange; its latency counts from intended_at (0: from sent_at, the clock's
 * reading just before the send, taken by the caller: on the reply path it is the reply's own timestamp) */
static HOT_INLINE void send_next(engine_t *e, int i, int64_t sent_at, int64_t intended_at) {
    conn_t *c = &e->c[i];
    c->index = c->index + 1 == e->ring_len ? 0 : c->index + 1;
    c->write_off = c->received = c->pending_len = 0;
    c->state = ST_INFLIGHT;
    c->sent_at = sent_at;
    c->intended_at = intended_at ? intended_at : sent_at;
    flush_request(e, i);
}

static COLD void reconnect(engine_t *e, int i) {
    e->reconnects++;
    if (start_connect(e, i) == 0) e->c[i].replacement = 1;   /* on connect: straight into the load */
}

static COLD void fail(engine_t *e, int i, int kind, const char *detail) {
    conn_t *c = &e->c[i];
    if (c->state == ST_DEAD) return;
    count_error(e, kind, "%s", detail);
    close_conn(e, i);
    /* reset or closed under load: replaced (counted above), so one bad connection does not end
     * the run; a timed-out one is not (that is starvation). Churn workers always go on. */
    if (!e->churn && (kind == K_RESET || kind == K_CLOSED) && e->sending && e->reconnects < e->max_reconnects)
        reconnect(e, i);
}

/* --- replies ------------------------------------------------------------------------------ */
static int ci_prefix(const char *s, size_t n, const char *lower) {
    size_t k = strlen(lower);
    if (n < k) return 0;
    for (size_t j = 0; j < k; j++) {
        char ch = s[j];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (ch != lower[j]) return 0;
    }
    return 1;
}

/* HTTP/1.1 framing by the header block and Content-Length (as concbench/scenarios/http.py ResponseCheck.frame):
 * the reply's length, 0 if incomplete, -1 if it cannot be framed. */
static long frame_http(engine_t *e, const char *b, size_t n) {
    const char *end = NULL;
    for (size_t j = 3; j < n; j++)
        if (b[j] == '\n' && b[j - 1] == '\r' && b[j - 2] == '\n' && b[j - 3] == '\r') { end = b + j - 3; break; }
    if (!end) return n < e->max_head ? 0 : -1;
    size_t head = (size_t)(end - b);
    for (size_t j = 0; j + 2 < head; j++) {
        if (b[j] != '\r' || b[j + 1] != '\n' || !ci_prefix(b + j + 2, head - j - 2, "content-length:")) continue;
        size_t k = j + 2 + 15;
        while (k < head && (b[k] == ' ' || b[k] == '\t')) k++;
        if (k == head || b[k] < '0' || b[k] > '9') return -1;
        unsigned long long length = 0;
        while (k < head && b[k] >= '0' && b[k] <= '9') {
            length = length * 10 + (unsigned)(b[k++] - '0');
            if (length > MAX_FRAMED_REPLY) return -2;
        }
        while (k < head && (b[k] == ' ' || b[k] == '\t')) k++;
        if (k < head && b[k] != '\r') return -1;
        size_t total = head + 4 + (size_t)length;
        if (total > MAX_FRAMED_REPLY) return -2;
        return n >= total ? (long)total : 0;
    }
    return -1;
}

static int pending_append(conn_t *c, const char *data, size_t n) {
    if (c->pending_len + n > c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap : 1024;
        while (cap < c->pending_len + n) cap *= 2;
        char *p = realloc(c->pending, cap);
        if (!p) return -1;
        c->pending = p, c->pending_cap = cap;
    }
    memcpy(c->pending + c->pending_len, data, n);
    c->pending_len += n;
    return 0;
}

static void show_bytes(char *out, size_t size, const char *b, size_t n) {
    size_t o = 0;
    for (size_t j = 0; j < n && o + 5 < size; j++) {
        unsigned char ch = (unsigned char)b[j];
        if (ch >= 32 && ch < 127 && ch != '\\' && ch != '\'') out[o++] = (char)ch;
        else o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
    }
    out[o < size ? o : size - 1] = 0;
}

/* 1: a whole verified reply; 0: need more; -1: the connection failed (already handled) */
static int take_framed(engine_t *e, int i, const char *data, size_t n) {
    conn_t *c = &e->c[i];
    const char *msg = data;
    size_t len = n;
    if (c->pending_len) {
        if (pending_append(c, data, n) < 0) { fail(e, i, K_MISMATCH, "out of memory buffering a reply"); return -1; }
        msg = c->pending, len = c->pending_len;
    }
    /* byte for byte one of the last replies that passed (framed whole, judged by Python): the same
     * verdict as framing it again, without the scan */
    for (int k = 1; k <= GOOD_CACHE; k++) {      /* newest first */
        int g = (e->good_next + GOOD_CACHE - k) % GOOD_CACHE;
        if (e->good_len[g] == len && memcmp(e->good[g], msg, len) == 0) { c->pending_len = 0; return 1; }
    }
    long size = frame_http(e, msg, len);
    char detail[400], shown[200];
    if (size == 0) {
        if (!c->pending_len && pending_append(c, data, n) < 0) {
            fail(e, i, K_MISMATCH, "out of memory buffering a reply");
            return -1;
        }
        return 0;
    }
    if (size == -2) { fail(e, i, K_MISMATCH, "reply larger than the engine accepts (16 MiB)"); return -1; }
    if (size < 0) {
        show_bytes(shown, sizeof shown, msg, len < 40 ? len : 40);
        snprintf(detail, sizeof detail, "reply cannot be framed (starts b'%s')", shown);
        fail(e, i, K_MISMATCH, detail);
        return -1;
    }
    if ((size_t)size != len) {
        snprintf(detail, sizeof detail, "%zu bytes after the reply, which nobody asked for", len - (size_t)size);
        fail(e, i, K_MISMATCH, detail);
        return -1;
    }
    int verdict = call_problem(e, msg, len, detail, sizeof detail);
    if (verdict < 0) { close_conn(e, i); return -1; }
    if (verdict > 0) { fail(e, i, K_MISMATCH, detail); return -1; }
    char *copy = malloc(len);
    if (copy) {
        memcpy(copy, msg, len);
        free(e->good[e->good_next]);
        e->good[e->good_next] = copy, e->good_len[e->good_next] = len;
        e->good_next = (e->good_next + 1) % GOOD_CACHE;
    }
    c->pending_len = 0;
    return 1;
}

/* echo-style, a piece that differs from the expected bytes: say where, and fail the connection */
static COLD int exact_mismatch(engine_t *e, int i, const char *data, size_t n) {
    conn_t *c = &e->c[i];
    const exchange_t *x = &e->ring[c->index];
    const char *want = x->exp;
    size_t len = x->exp_len, off = c->received;
    {
        char detail[400], shown[100];
        show_bytes(shown, sizeof shown, data, n < 16 ? n : 16);
        snprintf(detail, sizeof detail, "reply of %zu bytes: %s (piece starts b'%s')", len,
                 off + n > len ? "more bytes than expected" : "wrong bytes", shown);
        if (off + n <= len) {
            size_t at = 0;
            while (at < n && want[off + at] == data[at]) at++;
            snprintf(detail, sizeof detail, "reply of %zu bytes: wrong bytes at offset %zu (piece starts b'%s')",
                     len, off + at, shown);
        }
        fail(e, i, K_MISMATCH, detail);
        return -1;
    }
}

/* echo-style: compare with the expected bytes at the current offset; 1 whole, 0 more to come, -1 failed */
static HOT_INLINE int take_exact(engine_t *e, int i, const char *data, size_t n) {
    conn_t *c = &e->c[i];
    const exchange_t *x = &e->ring[c->index];
    size_t off = c->received;
    if (unlikely(off + n > x->exp_len || memcmp(x->exp + off, data, n) != 0)) return exact_mismatch(e, i, data, n);
    c->received = off + n;
    return c->received == x->exp_len;
}

static void release_due(engine_t *e, int64_t now);

/* a whole verified reply arrived on connection i at `now` */
static HOT_INLINE void on_reply(engine_t *e, int i, int64_t now) {
    conn_t *c = &e->c[i];
    c->completed = 1;
    if (e->churn) {            /* wait for the server's close */
        c->state = ST_WAITING;
        c->sent_at = now;      /* reply time, kept until the close confirms it */
        return;
    }
    c->served++;
    if (vec_push(&e->lat, now - c->intended_at) < 0) e->stop = 1;
    if (e->open_loop) {
        if (vec_push(&e->unc, now - c->sent_at) < 0) e->stop = 1;
        if (e->heap_n && e->heap[0].due <= now) release_due(e, now);
    }
    if (unlikely(!e->sending)) { c->state = ST_IDLE; c->sent_at = 0; return; }
    if (likely(!e->open_loop)) { send_next(e, i, now, 0); return; }   /* closed loop: at once */
    c->due += next_gap(e);
    if (c->due <= now) send_next(e, i, now_ns(), c->due);  /* the server made us miss our slot: count from it */
    else { c->state = ST_PARKED; c->sent_at = 0; heap_push(e, c->due, i); }
}

static void release_due(engine_t *e, int64_t now) {
    while (e->heap_n && e->heap[0].due <= now) {
        slot_t s = heap_pop(e);
        conn_t *c = &e->c[s.conn];
        if (!e->sending || c->state != ST_PARKED || c->due != s.due) continue;   /* stale slot */
        send_next(e, s.conn, now_ns(), 0);          /* idle connection: a late send is our lateness */
        if (c->state == ST_INFLIGHT && vec_push(&e->late, c->sent_at - s.due) < 0) e->stop = 1;
    }
}

/* churn: connection i's worker starts its next request (a new connection) */
static void churn_next(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    if (!e->sending) { c->state = ST_DEAD; return; }
    if (start_connect(e, i) < 0) { c->state = ST_WAITING; c->fd = -1; c->deadline = now_ns() + 10000000; }
}

static void churn_fail(engine_t *e, int i, int kind, const char *detail) {
    count_error(e, kind, "%s", detail);
    close_conn(e, i);
    churn_next(e, i);
}

/* churn: a verified reply, then the server's close: one exchange done */
static void churn_done(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    if (vec_push(&e->lat, c->sent_at - c->started_at) < 0) e->stop = 1;
    c->served++;
    close_conn(e, i);
    churn_next(e, i);
}

/* what is not a piece of a reply in flight: recv() returned r <= 0, or r > 0 bytes arrived while no
 * request was in flight. Returns 1 if the connection should be read again (EINTR). */
static COLD int read_trouble(engine_t *e, int i, ssize_t r) {
    conn_t *c = &e->c[i];
    char detail[240];
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == EINTR) return 1;
        if (e->churn && c->state == ST_WAITING && c->fd >= 0) { churn_done(e, i); return 0; }
        snprintf(detail, sizeof detail, "connection lost: %s", strerror(errno));
        if (e->churn) churn_fail(e, i, K_RESET, detail); else fail(e, i, K_RESET, detail);
        return 0;
    }
    if (r == 0) {
        if (e->churn) {
            if (c->state == ST_WAITING) { churn_done(e, i); return 0; }
            snprintf(detail, sizeof detail, "server closed after %zu of %zu bytes", c->received,
                     e->ring[c->index].exp_len);
            churn_fail(e, i, K_CLOSED, detail);
            return 0;
        }
        fail(e, i, K_CLOSED, c->state == ST_INFLIGHT ? "server closed the connection before the whole reply"
                                                     : "server closed an idle connection");
        return 0;
    }
    char shown[100];                        /* bytes nobody asked for */
    show_bytes(shown, sizeof shown, e->rbuf, r < 16 ? (size_t)r : 16);
    snprintf(detail, sizeof detail, "%zd bytes while no request was in flight (starts b'%s')", r, shown);
    if (e->churn) churn_fail(e, i, K_MISMATCH, detail); else fail(e, i, K_MISMATCH, detail);
    return 0;
}

/* The per-reply path: one recv(), one clock reading, the comparison, and (closed loop) the next send. */
static HOT_INLINE void on_readable(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    for (int rounds = 0; rounds < 4; rounds++) {
        /* a replacement connection (state CONNECTING) is read only once it has connected */
        if (c->fd < 0 || c->state == ST_DEAD || c->state == ST_CONNECTING) return;
        ssize_t r = recv(c->fd, e->rbuf, RECV_SIZE, 0);
        if (unlikely(r <= 0 || c->state != ST_INFLIGHT)) {
            if (read_trouble(e, i, r)) continue;
            return;
        }
        int64_t now = now_ns();
        int whole = e->problem != Py_None ? take_framed(e, i, e->rbuf, (size_t)r) : take_exact(e, i, e->rbuf, (size_t)r);
        if (unlikely(whole < 0)) {
            if (e->churn && c->state == ST_DEAD) churn_next(e, i);
            return;
        }
        if (whole) on_reply(e, i, now);
        if ((size_t)r < RECV_SIZE) return;
    }
}

static void on_connected(engine_t *e, int i) {
    conn_t *c = &e->c[i];
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    e->connecting--;
    if (err) {
        char host[64] = "?";
        if (e->addr.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&e->addr)->sin_addr, host, sizeof host);
        else inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&e->addr)->sin6_addr, host, sizeof host);
        int port = ntohs(((struct sockaddr_in *)&e->addr)->sin_port);
        c->state = ST_DEAD;   /* not counted as connecting any more */
        epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        count_error(e, K_CONNECT, "%s:%d: %s", host, port, strerror(err));
        if (e->churn) {
            c->state = ST_WAITING;   /* do not spin on a refusing server */
            c->deadline = now_ns() + 10000000;
        }
        return;
    }
    c->state = ST_IDLE;
    set_events(e, i, EPOLLIN);
    if (e->churn) {
        c->index = (c->index + 1) % e->ring_len;
        c->write_off = c->received = 0;
        c->state = ST_INFLIGHT;
        c->sent_at = now_ns();
        c->deadline = c->sent_at + (int64_t)(e->timeout_s * 1e9);
        flush_request(e, i);
        return;
    }
    if (c->replacement) {      /* a replacement connection: straight into the load */
        c->replacement = 0;
        if (!e->sending) { close_conn(e, i); return; }
        c->due = now_ns();
        send_next(e, i, c->due, e->open_loop ? c->due : 0);
    }
}

static void arm_timer(engine_t *e, int64_t early) {
    int64_t due = e->heap_n ? e->heap[0].due - early : 0;    /* early by the polling time (wait_events) */
    if (e->heap_n && due <= 0) due = 1;
    if (due == e->timer_armed) return;
    struct itimerspec its = {0};
    if (due) its.it_value.tv_sec = due / 1000000000, its.it_value.tv_nsec = due % 1000000000;
    timerfd_settime(e->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    e->timer_armed = due;
}

static void check_timeouts(engine_t *e, int64_t now) {
    int64_t limit = (int64_t)(e->timeout_s * 1e9);
    char detail[160];
    for (int i = 0; i < e->nconn; i++) {
        conn_t *c = &e->c[i];
        if (c->state == ST_CONNECTING && now > c->deadline) {
            close_conn(e, i);
            count_error(e, K_CONNECT, "connect timed out after %g s", e->connect_timeout_s);
            if (e->churn) churn_next(e, i);
        } else if (e->churn && c->state == ST_WAITING && c->fd < 0 && now >= c->deadline) {
            c->state = ST_DEAD;
            churn_next(e, i);
        } else if (e->churn && (c->state == ST_INFLIGHT || c->state == ST_WAITING) && c->fd >= 0
                   && now - c->deadline > 0) {
            snprintf(detail, sizeof detail, "no reply and close within the timeout (%g s)", e->timeout_s);
            churn_fail(e, i, K_TIMEOUT, detail);
        } else if (!e->churn && c->state == ST_INFLIGHT && now - c->sent_at > limit) {
            snprintf(detail, sizeof detail, "no complete reply within %g s", e->timeout_s);
            fail(e, i, K_TIMEOUT, detail);
        }
    }
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_EPOLL_PWAIT2 1
#endif

#define MAX_EVENTS 512
#define SPIN_PAUSE_NS 100000000        /* polling stops this long when the core was wanted by others */

/* Poll for events without sleeping until `until` (ns), with sched_yield() between polls: a task that
 * shares the core runs first, so the polling takes only time nobody else wants. Its CPU time is idle
 * time (idle_cpu_ns), not load-generator work. */
static int poll_until(engine_t *e, struct epoll_event *events, int64_t until) {
    int64_t cpu0 = thread_cpu_ns(), wall0 = now_ns(), wall1;
    int k;
    do {
        sched_yield();
        k = epoll_wait(e->ep, events, MAX_EVENTS, 0);
        wall1 = now_ns();
    } while (k == 0 && wall1 < until);
    int64_t cpu = thread_cpu_ns() - cpu0;
    e->idle_cpu_ns += cpu;
    /* less than half the spell on the cpu: other tasks ran in our yields, the core is not ours to poll on */
    if (wall1 - wall0 > 20000 && 2 * cpu < wall1 - wall0) e->spin_paused_until = wall1 + SPIN_PAUSE_NS;
    return k;
}

/* Wait for events, at most max_wait_ms; open loop: until the next slot at the latest.
 *
 * Before sleeping, poll for up to spin_ns: a client asleep in epoll_wait must be woken for each reply,
 * and the server pays for that wake-up in the write that sends the reply (measured against uvloop's
 * http server: 0.15 client sleeps per request cost it 1.2 us more CPU per request than wrk's 0.04).
 * Polling is skipped once a spell of spin_ns found nothing, until a wait ends within spin_ns again
 * (or the next periodic check), so a slow server is not polled for. Open loop: a slot within spin_ns is
 * waited for by polling, and a sleep towards a later slot ends spin_ns early, so a request leaves on
 * time rather than a wake-up's latency late. The sleep itself: epoll_pwait2's nanosecond timeout
 * where the kernel has it (no extra syscalls), else a timerfd. */
static int wait_events(engine_t *e, struct epoll_event *events, int max_wait_ms) {
    int64_t due = e->heap_n ? e->heap[0].due : INT64_MAX, start = 0;
    int polling = 0;
    if (e->spin_ns) {
        start = now_ns();
        polling = start >= e->spin_paused_until;
        if (polling && (e->spin_hit || due - start <= e->spin_ns)) {
            int k = epoll_wait(e->ep, events, MAX_EVENTS, 0);
            if (k != 0) return k;
            k = poll_until(e, events, due - start <= e->spin_ns ? due : start + e->spin_ns);
            if (k != 0) { e->spin_hit = 1; return k; }
            start = now_ns();
            if (start >= due) return 0;          /* the slot has come: the caller sends its request */
            e->spin_hit = 0;
        }
    }
    int k;
#ifdef HAVE_EPOLL_PWAIT2
    if (e->use_pwait2 && e->heap_n) {
        int64_t wait = due - (polling ? e->spin_ns : 0) - now_ns(), cap = (int64_t)max_wait_ms * 1000000;
        if (wait > cap) wait = cap;
        if (wait < 0) wait = 0;
        struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        k = epoll_pwait2(e->ep, events, MAX_EVENTS, &ts, NULL);
        if (k >= 0 || errno != ENOSYS) goto waited;
        e->use_pwait2 = 0;                   /* an older kernel: the timerfd from now on */
    }
#endif
    if (e->open_loop && !e->use_pwait2) arm_timer(e, polling ? e->spin_ns : 0);
    k = epoll_wait(e->ep, events, MAX_EVENTS, max_wait_ms);
#ifdef HAVE_EPOLL_PWAIT2
waited:
#endif
    if (e->spin_ns && k > 0 && now_ns() - start <= e->spin_ns) e->spin_hit = 1;   /* events came soon: poll */
    return k;
}

/* one turn of the loop: wait at most max_wait_ms for events */
static COLD void on_timer(engine_t *e) {
    uint64_t ticks;
    if (read(e->tfd, &ticks, sizeof ticks) < 0) { /* spurious: fine */ }
    e->timer_armed = 0;
    release_due(e, now_ns());
}

static void poll_once(engine_t *e, int max_wait_ms) {
    struct epoll_event events[MAX_EVENTS];
    int k = wait_events(e, events, max_wait_ms);
    for (int n = 0; n < k; n++) {
        uint32_t i = events[n].data.u32, ev = events[n].events;
        if (unlikely(i == TIMER_TOKEN)) { on_timer(e); continue; }
        conn_t *c = &e->c[i];
        if (unlikely(c->fd < 0)) continue;
        if (unlikely(c->state == ST_CONNECTING)) {
            if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(e, (int)i);
            continue;
        }
        if (likely(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(e, (int)i);
        if (unlikely(ev & EPOLLOUT) && c->fd >= 0 && c->state == ST_INFLIGHT) flush_request(e, (int)i);
    }
    if (e->heap_n && e->heap[0].due <= now_ns()) release_due(e, now_ns());
}

static int any_inflight(engine_t *e) {
    for (int i = 0; i < e->nconn; i++) {
        int s = e->c[i].state;
        if (s == ST_INFLIGHT || s == ST_CONNECTING || (e->churn && s == ST_WAITING && e->c[i].fd >= 0)) return 1;
    }
    return 0;
}

/* Ctrl-C and other signals: Python's handlers run here (the GIL taken briefly, a few times a second) */
static void check_signals(engine_t *e) {
    PyEval_RestoreThread(e->ts);
    if (PyErr_CheckSignals() < 0) e->py_failed = 1, e->stop = 1;
    e->ts = PyEval_SaveThread();
}

/* run the loop until `until` (ns) or, if idle_exit, until nothing is in flight */
static void run_until(engine_t *e, int64_t until, int idle_exit) {
    int64_t last_check = now_ns();
    int64_t check_every = (int64_t)(fmin(0.1, e->timeout_s / 4) * 1e9);
    for (;;) {
        int64_t now = now_ns();
        if (e->stop || now >= until) return;
        if (idle_exit && !any_inflight(e)) return;
        if (now - last_check >= check_every) {
            check_timeouts(e, now);
            check_signals(e);
            e->spin_hit = 1;                  /* worth polling again? the next idle spell tells */
            last_check = now;
        }
        int64_t wait = until - now;
        if (wait > check_every) wait = check_every;
        poll_once(e, (int)(wait / 1000000) + 1);
    }
}

static int parse_ring(engine_t *e, PyObject *ring) {
    Py_ssize_t n = PyTuple_Size(ring);
    if (n <= 0) { PyErr_SetString(PyExc_ValueError, "the ring of exchanges is empty"); return -1; }
    e->ring = calloc((size_t)n, sizeof *e->ring);
    if (!e->ring) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *pair = PyTuple_GetItem(ring, j);
        if (!pair || !PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2
            || !PyBytes_Check(PyTuple_GET_ITEM(pair, 0)) || !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "ring: a tuple of (request bytes, expected reply bytes)");
            return -1;
        }
        PyObject *req = PyTuple_GET_ITEM(pair, 0), *exp = PyTuple_GET_ITEM(pair, 1);
        e->ring[j].req = PyBytes_AS_STRING(req), e->ring[j].req_len = (size_t)PyBytes_GET_SIZE(req);
        e->ring[j].exp = PyBytes_AS_STRING(exp), e->ring[j].exp_len = (size_t)PyBytes_GET_SIZE(exp);
        if (e->ring[j].req_len == 0) { PyErr_SetString(PyExc_ValueError, "ring: an empty request"); return -1; }
    }
    e->ring_len = (size_t)n;
    return 0;
}

static PyObject *vec_bytes(vec *a) {
    return PyBytes_FromStringAndSize((const char *)a->v, (Py_ssize_t)(a->n * sizeof(int64_t)));
}

static void engine_free(engine_t *e) {
    if (e->c) {
        for (int i = 0; i < e->nconn; i++) {
            if (e->c[i].fd >= 0) close(e->c[i].fd);
            free(e->c[i].pending);
        }
    }
    if (e->ep >= 0) close(e->ep);
    if (e->tfd >= 0) close(e->tfd);
    for (int g = 0; g < GOOD_CACHE; g++) free(e->good[g]);
    free(e->c); free(e->heap); free(e->rbuf); free(e->ring);
    free(e->lat.v); free(e->unc.v); free(e->late.v);
}

static PyObject *engine_run(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"family", "address", "port", "ring", "connections", "warmup_s", "duration_s",
                            "timeout_s", "connect_timeout_s", "rate", "poisson", "churn", "problem",
                            "on_event", "max_head", "seed", "spin_us", NULL};
    engine_t e;
    memset(&e, 0, sizeof e);
    e.ep = e.tfd = -1;
    int family, port;
    const char *address;
    PyObject *ring;
    unsigned long long seed = 0x5EED;
    Py_ssize_t max_head = 65536;
    double spin_us = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "isiO!iddddd|ppOOnKd", names, &family, &address, &port,
                                     &PyTuple_Type, &ring, &e.nconn, &e.warmup_s, &e.duration_s, &e.timeout_s,
                                     &e.connect_timeout_s, &e.rate, &e.poisson, &e.churn, &e.problem,
                                     &e.on_event, &max_head, &seed, &spin_us))
        return NULL;
    if (spin_us < 0 || spin_us > 1e6) {
        PyErr_SetString(PyExc_ValueError, "spin_us: from 0 (never poll) to 1e6");
        return NULL;
    }
    e.spin_ns = (int64_t)(spin_us * 1000);
    e.spin_hit = 1;
    if (!e.problem) e.problem = Py_None;
    if (!e.on_event) e.on_event = Py_None;
    e.max_head = (size_t)max_head;
    e.rng = seed;
    if (e.nconn <= 0 || e.timeout_s <= 0 || e.connect_timeout_s <= 0 || e.warmup_s < 0 || e.duration_s < 0) {
        PyErr_SetString(PyExc_ValueError, "connections and timeouts must be positive, phases not negative");
        return NULL;
    }
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&e.addr;
        a->sin_family = AF_INET, a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, address, &a->sin_addr) != 1) { PyErr_SetString(PyExc_ValueError, "bad IPv4 address"); return NULL; }
        e.addrlen = sizeof *a;
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&e.addr;
        a->sin6_family = AF_INET6, a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) { PyErr_SetString(PyExc_ValueError, "bad IPv6 address"); return NULL; }
        e.addrlen = sizeof *a;
    } else { PyErr_SetString(PyExc_ValueError, "family: AF_INET or AF_INET6"); return NULL; }
    Py_INCREF(ring);   /* the ring's bytes are read without the GIL: keep them alive */
    PyObject *result = NULL;
    if (parse_ring(&e, ring) < 0) goto out;
    e.open_loop = e.rate > 0 && !e.churn;
    e.max_reconnects = 10L * e.nconn;
    e.c = calloc((size_t)e.nconn, sizeof *e.c);
    e.heap_cap = (size_t)e.nconn + 1;
    e.heap = calloc(e.heap_cap, sizeof *e.heap);
    e.rbuf = malloc(RECV_SIZE);
    if (!e.c || !e.heap || !e.rbuf) { PyErr_NoMemory(); goto out; }
    for (int i = 0; i < e.nconn; i++) {
        e.c[i].fd = -1;
        e.c[i].index = (size_t)i % e.ring_len;
        if (e.churn) e.c[i].index = (e.c[i].index + e.ring_len - 1) % e.ring_len;   /* first send: ring[i] */
    }
    e.ep = epoll_create1(EPOLL_CLOEXEC);
    e.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (e.ep < 0 || e.tfd < 0) { PyErr_SetFromErrno(PyExc_OSError); goto out; }
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = TIMER_TOKEN};
    epoll_ctl(e.ep, EPOLL_CTL_ADD, e.tfd, &tev);
    if (e.open_loop) e.interval_ns = (int64_t)(e.nconn * 1e9 / e.rate);
#ifdef HAVE_EPOLL_PWAIT2
    e.use_pwait2 = !getenv("CONCBENCH_ENGINE_TIMERFD");     /* the tests run both ways */
#endif

    int64_t t0 = 0, t1 = 0;
    size_t start_index = 0, end_index = 0, late_start = 0, late_end = 0;
    int64_t idle0 = 0, idle1 = 0;
    double backlog = 0.0;
    long connected = 0, ramped = 0;
    int64_t grace = (int64_t)((e.timeout_s + 1.0) * 1e9);
    e.ts = PyEval_SaveThread();
    if (e.churn) {
        connected = ramped = e.nconn;          /* every request connects anew */
        call_event(&e, "connected");
        e.sending = 1;
        for (int i = 0; i < e.nconn && !e.stop; i++) churn_next(&e, i);
    } else {
        /* connect every connection, at most CONNECT_LIMIT at a time */
        int next = 0;
        int64_t bound = now_ns() + (int64_t)((e.connect_timeout_s + 1.0) * 1e9) * (1 + e.nconn / CONNECT_LIMIT);
        while (!e.stop && (next < e.nconn || e.connecting > 0) && now_ns() < bound) {
            while (next < e.nconn && e.connecting < CONNECT_LIMIT) start_connect(&e, next++);
            poll_once(&e, 10);
            check_timeouts(&e, now_ns());
        }
        for (int i = 0; i < e.nconn; i++) if (e.c[i].state == ST_IDLE) connected++;
        if (connected == 0) goto finished;
        /* ramp-up: every connection proves it is served with one verified exchange before the load */
        for (int i = 0; i < e.nconn; i++) if (e.c[i].state == ST_IDLE) send_next(&e, i, now_ns(), 0);
        run_until(&e, now_ns() + grace, 1);
        for (int i = 0; i < e.nconn; i++) if (e.c[i].completed && e.c[i].state != ST_DEAD) ramped++;
        call_event(&e, "connected");
        e.sending = 1;
        if (e.open_loop) {       /* every connection's first slot, spread so the total rate is even */
            int64_t start = now_ns() + 1000000;
            int alive = 0, k = 0;
            for (int i = 0; i < e.nconn; i++) if (e.c[i].state == ST_IDLE) alive++;
            for (int i = 0; i < e.nconn; i++) {
                if (e.c[i].state != ST_IDLE) continue;
                int64_t offset = e.poisson ? next_gap(&e) : (int64_t)((double)e.interval_ns * k / alive);
                k++;
                e.c[i].due = start + offset;
                e.c[i].state = ST_PARKED;
                heap_push(&e, e.c[i].due, i);
            }
        } else {
            for (int i = 0; i < e.nconn; i++) if (e.c[i].state == ST_IDLE) send_next(&e, i, now_ns(), 0);
        }
    }
    run_until(&e, now_ns() + (int64_t)(e.warmup_s * 1e9), 0);
    start_index = e.lat.n, late_start = e.late.n;
    idle0 = e.idle_cpu_ns;
    t0 = now_ns();
    call_event(&e, "window_start");
    run_until(&e, t0 + (int64_t)(e.duration_s * 1e9), 0);
    end_index = e.lat.n, late_end = e.late.n;
    idle1 = e.idle_cpu_ns;
    t1 = now_ns();
    if (e.open_loop) {
        for (int i = 0; i < e.nconn; i++) {
            conn_t *c = &e.c[i];
            if (c->state == ST_INFLIGHT && t1 > c->due) {
                double behind = (double)(t1 - c->due) / (double)e.interval_ns - 1.0;
                if (behind > 0) backlog += behind;
            }
        }
    }
    call_event(&e, "window_end");
    e.sending = 0;
    e.heap_n = 0;
    for (int i = 0; i < e.nconn; i++) {
        if (e.c[i].state == ST_PARKED) e.c[i].state = ST_IDLE;
        if (e.churn && e.c[i].state == ST_WAITING && e.c[i].fd < 0) e.c[i].state = ST_DEAD;
    }
    /* drain: each request in flight gets its reply or times out */
    run_until(&e, now_ns() + (e.churn ? (int64_t)((e.connect_timeout_s + e.timeout_s + 1.0) * 1e9) : grace), 1);
finished:
    PyEval_RestoreThread(e.ts);
    if (e.py_failed) goto out;
    long served = 0;
    for (int i = 0; i < e.nconn; i++) if (e.c[i].served) served++;
    PyObject *errors = PyDict_New();
    if (!errors) goto out;
    for (int k = 0; k < N_KINDS; k++) {
        PyObject *v = PyLong_FromLong(e.errors[k]);
        if (!v || PyDict_SetItemString(errors, KIND_NAMES[k], v) < 0) { Py_XDECREF(v); Py_DECREF(errors); goto out; }
        Py_DECREF(v);
    }
    vec window = {e.lat.v ? e.lat.v + start_index : NULL, end_index - start_index, 0};
    vec window_unc = {e.open_loop && e.unc.v ? e.unc.v + start_index : NULL, e.open_loop ? end_index - start_index : 0, 0};
    vec window_late = {e.late.v ? e.late.v + late_start : NULL, late_end - late_start, 0};
    result = Py_BuildValue("{s:N,s:N,s:N,s:d,s:d,s:N,s:y,s:l,s:l,s:l,s:l,s:n,s:d}",
                           "latencies", vec_bytes(&window), "latencies_uncorrected", vec_bytes(&window_unc),
                           "lateness", vec_bytes(&window_late), "window_s", (double)(t1 - t0) / 1e9,
                           "backlog_end", backlog, "errors", errors, "first_error", e.first_error,
                           "connected", connected, "ramped", ramped, "reconnects", e.reconnects,
                           "served_connections", served, "verified_replies_total", (Py_ssize_t)e.lat.n,
                           "idle_polling_cpu_s", (double)(idle1 - idle0) / 1e9);
out:
    engine_free(&e);
    Py_DECREF(ring);
    return result;
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))engine_run, METH_VARARGS | METH_KEYWORDS,
     "run(family, address, port, ring, connections, warmup_s, duration_s, timeout_s, connect_timeout_s, rate,\n"
     "    poisson=False, churn=False, problem=None, on_event=None, max_head=65536, seed=0x5EED, spin_us=0) -> dict\n"
     "One load run; see concbench/clients/native_engine.py."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_engine",
                                    "The load generator's hot path in C (see concbench/clients/native_engine.py).", -1, methods};

PyMODINIT_FUNC PyInit__engine(void) { return PyModule_Create(&module); }
