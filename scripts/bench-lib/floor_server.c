// The benchmark's floor: a server that does no work. It answers every length-prefixed request
// frame with the same canned reply, ('#RETURN', None) as Python pickles it, one thread per
// connection, blocking reads and writes: the least any server can cost a Python client per
// call on this machine. Loopback only; prints "READY <port>" and serves until killed.
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static const unsigned char reply[] = {0, 0, 0, 25, 0x80, 4, 0x95, 14, 0, 0, 0, 0, 0, 0, 0, 0x8c, 7, '#', 'R',
    'E', 'T', 'U', 'R', 'N', 0x94, 0x4e, 0x86, 0x94, 0x2e};

static int read_fully(int fd, unsigned char *buffer, size_t count) {
    for (size_t got = 0; got < count;) {
        ssize_t n = read(fd, buffer + got, count - got);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

static void *serve(void *argument) {
    int fd = (int)(long)argument, one = 1;
    static __thread unsigned char request[1 << 16];
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
        unsigned char header[4];
        if (read_fully(fd, header, 4)) break;
        size_t length = (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
        if (length > sizeof request || read_fully(fd, request, length)) break;
        if (write(fd, reply, sizeof reply) != (ssize_t)sizeof reply) break;
    }
    close(fd);
    return NULL;
}

int main(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 16)
        || getsockname(listener, (struct sockaddr *)&address, &length)) {
        perror("floor_server");
        return 1;
    }
    printf("READY %d\n", ntohs(address.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve, (void *)(long)fd) == 0) pthread_detach(thread);
        else close(fd);
    }
}
