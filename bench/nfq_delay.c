/*
 * nfq_delay: holds every packet of an NFQUEUE for a fixed time, then accepts
 * it — a one-way delay for kernels without the netem qdisc. Packets leave in
 * arrival order (the delay is constant, so the queue stays sorted).
 *
 *   cc -O2 -o nfq_delay bench/nfq_delay.c -lnetfilter_queue
 *   iptables -A OUTPUT -o veth0 -j NFQUEUE --queue-num 7
 *   ./nfq_delay 7 50        # queue 7, 50 ms
 *
 * Runs until SIGTERM/SIGINT, then accepts whatever it still holds.
 * Debian: libnetfilter-queue-dev.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING (1u << 18) /* packets held at most (262144) */

static uint32_t ids[RING];
static int64_t due[RING];
static unsigned head, tail; /* ring of held packets: [head, tail) */
static int64_t delay_ns;
static volatile sig_atomic_t stop;
static unsigned long held_total, overflow;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (tail - head >= RING) { /* full: let it through at once rather than lose it */
    overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  ids[tail % RING] = id;
  due[tail % RING] = now_ns() + delay_ns;
  tail++;
  held_total++;
  return 0;
}

static void release_due(struct nfq_q_handle *qh, int all) {
  int64_t t = now_ns();
  while (head != tail && (all || due[head % RING] <= t)) {
    nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
    head++;
  }
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <queue-num> <delay-ms>\n", argv[0]);
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_ns = (int64_t)(atof(argv[2]) * 1e6);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  nfq_unbind_pf(h, AF_INET);
  if (nfq_bind_pf(h, AF_INET) < 0) { perror("nfq_bind_pf"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, queue, &on_packet, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  /* Only the metadata is needed: the verdict does not change the packet. */
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(qh, RING);
  int fd = nfq_fd(h);
  int rcvbuf = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  /* Tell the parent we are ready to take packets. */
  printf("ready queue=%d delay_ms=%s\n", queue, argv[2]);
  fflush(stdout);

  char buf[65536] __attribute__((aligned));
  while (!stop) {
    int timeout = -1;
    if (head != tail) {
      int64_t wait = due[head % RING] - now_ns();
      timeout = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout);
    if (r < 0 && errno != EINTR) { perror("poll"); break; }
    if (r > 0) {
      /* Drain everything queued now, without blocking. */
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
          if (errno == ENOBUFS) continue; /* the kernel dropped some: keep going */
          break;
        }
        nfq_handle_packet(h, buf, (int)n);
      }
    }
    release_due(qh, 0);
  }
  release_due(qh, 1);
  fprintf(stderr, "nfq_delay: held %lu packets, %lu passed undelayed (ring full)\n", held_total, overflow);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
