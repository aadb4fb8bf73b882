// The floor of one task at a time: the four hops of `task-ctl latency` (client → master →
// worker → master → client) between three C processes that do no work. The master relays
// 8-byte messages with one epoll loop, as an event-loop server does; the worker and the
// client use blocking reads. Whatever a real system takes on top of this is its own work per
// message. Loopback only; every read gives up after 10 s.
//   floor_chain COUNT   prints {"count": N, "p50_us": …, "p99_us": …} after a warm-up
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MESSAGE = 8, WARM_UP = 500 };

static void tune(int fd) {
    int one = 1;
    struct timeval limit = {.tv_sec = 10};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

static int connect_to(const struct sockaddr_in *address) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)address, sizeof *address)) {
        perror("floor_chain: connect");
        exit(1);
    }
    tune(fd);
    return fd;
}

static int read_fully(int fd, char *buffer, size_t count) {
    for (size_t got = 0; got < count;) {
        ssize_t n = read(fd, buffer + got, count - got);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

// The master: what one of its two connections sends goes to the other, so the order the
// worker and the client connect in does not matter. Ends when either closes, or after 10 s
// without a connection or a message.
static void master(int listener) {
    tune(listener);  // accept gives up after 10 s too
    int first = accept(listener, NULL, NULL), second = accept(listener, NULL, NULL);
    int poll = epoll_create1(0);
    if (first < 0 || second < 0 || poll < 0) exit(1);
    tune(first);
    tune(second);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = first};
    epoll_ctl(poll, EPOLL_CTL_ADD, first, &event);
    event.data.fd = second;
    epoll_ctl(poll, EPOLL_CTL_ADD, second, &event);
    char buffer[256];
    for (;;) {
        struct epoll_event ready[2];
        int count = epoll_wait(poll, ready, 2, 10000);
        if (count <= 0) exit(0);
        for (int i = 0; i < count; i++) {
            int from = ready[i].data.fd;
            ssize_t n = read(from, buffer, sizeof buffer);
            if (n <= 0) exit(0);
            if (write(from == first ? second : first, buffer, (size_t)n) != n) exit(1);
        }
    }
}

// The worker: reads a task, sends it back as its result.
static void worker(const struct sockaddr_in *address) {
    int fd = connect_to(address);
    char message[MESSAGE];
    while (read_fully(fd, message, MESSAGE) == 0)
        if (write(fd, message, MESSAGE) != MESSAGE) break;
    exit(0);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 2000;
    if (count < 1 || count > 1000000) {
        fprintf(stderr, "floor_chain: COUNT must be 1 to 1000000\n");
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 2)
        || getsockname(listener, (struct sockaddr *)&address, &length)) {
        perror("floor_chain");
        return 1;
    }
    if (fork() == 0) master(listener);
    close(listener);
    if (fork() == 0) worker(&address);
    int fd = connect_to(&address);
    double *took = malloc(sizeof(double) * (size_t)count);
    char message[MESSAGE] = {0};
    for (int i = -WARM_UP; i < count; i++) {
        double start = now_us();
        if (write(fd, message, MESSAGE) != MESSAGE || read_fully(fd, message, MESSAGE)) {
            fprintf(stderr, "floor_chain: the chain broke after %d round trips\n", i + WARM_UP);
            return 1;
        }
        if (i >= 0) took[i] = now_us() - start;
    }
    close(fd);
    while (wait(NULL) > 0) {
    }
    qsort(took, (size_t)count, sizeof(double), by_value);
    printf("{\"count\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f}\n", count, took[count / 2], took[count * 99 / 100]);
    return 0;
}
