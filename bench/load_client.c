// Copyright 2026 the @aio/net authors. MIT license.
// The load client in C: the same ping-pong as load_client.ts (send SIZE
// bytes, wait for all of them back, check, repeat, on CONNS connections),
// on one thread with epoll, so that the client takes less of the shared CPU
// than the server it measures. bench/echo.ts compiles it into a temporary
// directory at run time and falls back to load_client.ts without gcc.
//
// Usage: load_client PORT SIZE CONNS WARMUP_S DURATION_S
// Prints one JSON line: {"requests": N, "bytes": B, "seconds": S}.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent, got;
  unsigned long echoes;
  int want_out, done;
  unsigned char *buf;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s PORT SIZE CONNS WARMUP_S DURATION_S\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  size_t size = (size_t)atol(argv[2]);
  int nconns = atoi(argv[3]);
  double warmup = atof(argv[4]), duration = atof(argv[5]);
  if (size == 0 || nconns <= 0) return 2;

  unsigned char *message = malloc(size);
  for (size_t i = 0; i < size; i++) message[i] = (unsigned char)((i * 31 + 7) & 0xff);

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < nconns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
    conns[i].fd = fd;
    conns[i].buf = malloc(size);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (unsigned)i};
    conns[i].want_out = 1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }

  double start = now_s();
  double count_from = start + warmup, end = count_from + duration;
  double give_up = end + 10;  // a stuck server must not hang the bench
  unsigned long long requests = 0;
  int open = nconns;
  struct epoll_event events[256];
  while (open > 0) {
    int n = epoll_wait(ep, events, 256, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    double t = now_s();
    if (t > give_up) {
      fprintf(stderr, "load_client: timed out waiting for echoes\n");
      return 1;
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = &conns[events[e].data.u32];
      if (c->done) continue;
      // Send what is left of the message.
      while (c->sent < size) {
        ssize_t w = write(c->fd, message + c->sent, size - c->sent);
        if (w < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          die("write");
        }
        c->sent += (size_t)w;
      }
      // Read what has come back.
      while (c->got < size) {
        ssize_t r = read(c->fd, c->buf + c->got, size - c->got);
        if (r < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          die("read");
        }
        if (r == 0) {
          fprintf(stderr, "load_client: server closed the connection\n");
          return 1;
        }
        c->got += (size_t)r;
      }
      if (c->got == size) {
        // Check every 64th echo byte for byte, and three bytes of every one.
        if ((++c->echoes & 63) == 0) {
          if (memcmp(c->buf, message, size) != 0) {
            fprintf(stderr, "load_client: echo mismatch\n");
            return 1;
          }
        } else if (c->buf[0] != message[0] || c->buf[size >> 1] != message[size >> 1] ||
                   c->buf[size - 1] != message[size - 1]) {
          fprintf(stderr, "load_client: echo mismatch\n");
          return 1;
        }
        t = now_s();
        if (t >= count_from && t < end) requests++;
        if (t >= end) {
          c->done = 1;
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          open--;
          continue;
        }
        c->sent = c->got = 0;
        // Start the next message at once.
        while (c->sent < size) {
          ssize_t w = write(c->fd, message + c->sent, size - c->sent);
          if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            die("write");
          }
          c->sent += (size_t)w;
        }
      }
      int want_out = c->sent < size;
      if (want_out != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                                 .data.u32 = events[e].data.u32};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        c->want_out = want_out;
      }
    }
  }
  printf("{\"requests\": %llu, \"bytes\": %llu, \"seconds\": %g}\n", requests,
         requests * (unsigned long long)size * 2, duration);
  return 0;
}
