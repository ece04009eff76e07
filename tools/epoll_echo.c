/* Reference echo server in C: one thread, epoll, level-triggered, serving the listening
 * socket it inherits as file descriptor argv[1]. It is not a Python concurrency model; it
 * exists to measure the load generator's ceiling against a server that is not the bottleneck. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECV_SIZE 65536
#define MAX_EVENTS 256

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s LISTEN_FD\n", argv[0]); return 2; }
    int listener = atoi(argv[1]);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener}, events[MAX_EVENTS];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0) { perror("epoll"); return 1; }
    static char buf[RECV_SIZE];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int conn = accept(listener, NULL, NULL);
                if (conn < 0) continue;
                int one = 1;
                setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = conn};
                epoll_ctl(ep, EPOLL_CTL_ADD, conn, &cev);
                continue;
            }
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0) { close(fd); continue; }
            /* Blocking-free enough for a reference: echo replies are small and the
             * client reads them at once; a short write is finished in a loop. */
            for (ssize_t sent = 0; sent < got;) {
                ssize_t w = send(fd, buf + sent, got - sent, MSG_NOSIGNAL);
                if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue; close(fd); break; }
                sent += w;
            }
        }
    }
}
