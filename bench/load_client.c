// Copyright 2026 the @aio/net authors. MIT license.
// The load client in C: the same ping-pong as load_client.ts (send SIZE
// bytes, wait for all of them back, check, repeat, on CONNS connections),
// on one thread with epoll, so that the client takes less of the shared CPU
// than the server it measures. bench/echo.ts compiles it into a temporary
// directory at run time and falls back to load_client.ts without gcc.
//
// Built with -DLOAD_CLIENT_TLS (and -lssl -lcrypto, from libssl-dev) it can
// also speak TLS through OpenSSL: give it the CA certificate to trust as a
// sixth argument; it checks the server's certificate against 127.0.0.1.
// A seventh argument, "starttls", connects in plain TCP first, sends
// "STARTTLS\r\n", reads exactly "OK\r\n", and only then starts the TLS
// handshake on the same socket (for servers/aio_starttls.ts).
//
// Usage: load_client PORT SIZE CONNS WARMUP_S DURATION_S [CA_PEM [starttls]]
// Prints one JSON line: {"requests": N, "bytes": B, "seconds": S}, and with
// TLS also "tls": the OpenSSL version, and the negotiated version and cipher.
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
#ifdef LOAD_CLIENT_TLS
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#endif

struct conn {
  int fd;
  size_t sent, got;
  unsigned long echoes;
  int want_out, done;
  unsigned char *buf;
#ifdef LOAD_CLIENT_TLS
  SSL *ssl;  // NULL on plain TCP
#endif
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

#ifdef LOAD_CLIENT_TLS
static void tls_die(const char *what, int code) {
  fprintf(stderr, "load_client: %s failed (SSL_get_error %d, errno %d)\n", what, code, errno);
  ERR_print_errors_fp(stderr);
  exit(1);
}

// The plain exchange before the upgrade, on the blocking socket: sends
// "STARTTLS\r\n" and reads exactly "OK\r\n" (no more, so that nothing of
// the handshake is taken from OpenSSL).
static void starttls_exchange(int fd) {
  static const char request[] = "STARTTLS\r\n", answer[] = "OK\r\n";
  size_t off = 0, n = sizeof request - 1;
  while (off < n) {
    ssize_t w = write(fd, request + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write STARTTLS");
    }
    off += (size_t)w;
  }
  char got[sizeof answer - 1];
  off = 0;
  n = sizeof got;
  while (off < n) {
    ssize_t r = read(fd, got + off, n - off);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read OK");
    }
    if (r == 0) {
      fprintf(stderr, "load_client: server closed the connection before OK\n");
      exit(1);
    }
    off += (size_t)r;
  }
  if (memcmp(got, answer, n) != 0) {
    fprintf(stderr, "load_client: expected OK\\r\\n after STARTTLS, got %.*s\n", (int)n, got);
    exit(1);
  }
}
#endif

// Writes what it can: the bytes written, or 0 if the socket is full.
static size_t conn_write(struct conn *c, const unsigned char *p, size_t n) {
#ifdef LOAD_CLIENT_TLS
  if (c->ssl) {
    ERR_clear_error();
    int w = SSL_write(c->ssl, p, (int)n);
    if (w > 0) return (size_t)w;
    int code = SSL_get_error(c->ssl, w);
    if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) return 0;
    tls_die("SSL_write", code);
  }
#endif
  ssize_t w = write(c->fd, p, n);
  if (w < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    die("write");
  }
  return (size_t)w;
}

// Reads what has come: the bytes read, 0 if nothing is there yet, -1 at EOF.
static ssize_t conn_read(struct conn *c, unsigned char *p, size_t n) {
#ifdef LOAD_CLIENT_TLS
  if (c->ssl) {
    ERR_clear_error();
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0) return r;
    int code = SSL_get_error(c->ssl, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
    if (code == SSL_ERROR_ZERO_RETURN) return -1;
    tls_die("SSL_read", code);
  }
#endif
  ssize_t r = read(c->fd, p, n);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    die("read");
  }
  return r == 0 ? -1 : r;
}

int main(int argc, char **argv) {
  if (argc < 6 || argc > 8 || (argc == 8 && strcmp(argv[7], "starttls") != 0)) {
    fprintf(stderr, "usage: %s PORT SIZE CONNS WARMUP_S DURATION_S [CA_PEM [starttls]]\n",
            argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  size_t size = (size_t)atol(argv[2]);
  int nconns = atoi(argv[3]);
  double warmup = atof(argv[4]), duration = atof(argv[5]);
  if (size == 0 || size > (1 << 30) || nconns <= 0) return 2;
#ifdef LOAD_CLIENT_TLS
  SSL_CTX *ctx = NULL;
  char tls_info[256] = "";
  int starttls = argc == 8;
  if (argc >= 7) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) tls_die("SSL_CTX_new", 0);
    if (SSL_CTX_load_verify_locations(ctx, argv[6], NULL) != 1) {
      tls_die("loading the CA certificate", 0);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    // SSL_write may write part of a message (record by record) and be
    // called again with the rest.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
#else
  if (argc >= 7) {
    fprintf(stderr, "load_client: built without OpenSSL (-DLOAD_CLIENT_TLS): no TLS\n");
    return 2;
  }
#endif

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
#ifdef LOAD_CLIENT_TLS
    if (ctx) {
      // The handshake (and, with starttls, the plain exchange before it) runs
      // before the socket turns non-blocking, and before the clock starts.
      if (starttls) starttls_exchange(fd);
      SSL *ssl = SSL_new(ctx);
      if (!ssl) tls_die("SSL_new", 0);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
      SSL_set_fd(ssl, fd);
      int r = SSL_connect(ssl);
      if (r != 1) tls_die("SSL_connect", SSL_get_error(ssl, r));
      if (i == 0) {
        snprintf(tls_info, sizeof tls_info, "%s, %s, %s", OpenSSL_version(OPENSSL_VERSION),
                 SSL_get_version(ssl), SSL_get_cipher_name(ssl));
      }
      conns[i].ssl = ssl;
    }
#endif
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
        size_t w = conn_write(c, message + c->sent, size - c->sent);
        if (w == 0) break;
        c->sent += w;
      }
      // Read what has come back.
      while (c->got < size) {
        ssize_t r = conn_read(c, c->buf + c->got, size - c->got);
        if (r == 0) break;
        if (r < 0) {
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
#ifdef LOAD_CLIENT_TLS
          if (c->ssl) {
            SSL_shutdown(c->ssl);  // sends close_notify; does not wait for the reply
            SSL_free(c->ssl);
            c->ssl = NULL;
          }
#endif
          close(c->fd);
          open--;
          continue;
        }
        c->sent = c->got = 0;
        // Start the next message at once.
        while (c->sent < size) {
          size_t w = conn_write(c, message + c->sent, size - c->sent);
          if (w == 0) break;
          c->sent += w;
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
  printf("{\"requests\": %llu, \"bytes\": %llu, \"seconds\": %g", requests,
         requests * (unsigned long long)size * 2, duration);
#ifdef LOAD_CLIENT_TLS
  if (ctx) printf(", \"tls\": \"%s\"", tls_info);
#endif
  printf("}\n");
  return 0;
}
