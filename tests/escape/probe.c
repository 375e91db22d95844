/*
 * Escape probe: run inside a container by tests/tests/escape.rs.
 *
 *   probe ATTEMPT[=ARG] ...
 *
 * Each attempt runs in a forked child and prints one line `ATTEMPT: RESULT`,
 * RESULT being `ok` when the attempt got through, the errno name (`EPERM`,
 * `EROFS`, ...) of the step that stopped it, or a word saying why it did not
 * matter (`contained`, `empty`).  The probe never does anything harmful when
 * an attempt succeeds: it writes back values it read, signals only pids the
 * test gave it, and stops at the first step that proves the hole.
 *
 * Built static at test time: gcc -static -O1 -o probe probe.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The result of a step that failed: its errno, by name. */
static const char *err(void) {
  const char *n = strerrorname_np(errno);
  return n ? n : "E?";
}

#define TRY(call)                                                            \
  do {                                                                       \
    if ((long)(call) < 0) return err();                                      \
  } while (0)

/* Write back what the file holds now: harmless if it works, and that it
 * works is the hole. */
static const char *write_same(const char *path) {
  char buf[4096];
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
  if (fd >= 0) close(fd);
  if (n <= 0) { buf[0] = '\n'; n = 1; }
  TRY(fd = open(path, O_WRONLY));
  ssize_t w = write(fd, buf, n);
  close(fd);
  TRY(w);
  return "ok";
}

/* A masked file reads as empty (or cannot be opened). */
static const char *read_masked(const char *path) {
  char buf[256];
  int fd;
  TRY(fd = open(path, O_RDONLY));
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  TRY(n);
  return n == 0 ? "empty" : "ok";
}

static const char *sysrq(void) {
  int fd;
  TRY(fd = open("/proc/sysrq-trigger", O_WRONLY));
  ssize_t w = write(fd, "h", 1); /* `h`: the kernel logs its help */
  close(fd);
  TRY(w);
  return "ok";
}

static const char *mount_proc(void) {
  TRY(mount("proc", "/tmp", "proc", 0, NULL));
  return "ok";
}

static const char *mount_bind_root(void) {
  TRY(mount("/", "/tmp", NULL, MS_BIND | MS_REC, NULL));
  return "ok";
}

static const char *remount_root_rw(void) {
  TRY(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
  return "ok";
}

static const char *mount_cgroup(void) {
  /* CVE-2022-0492: a fresh v1 hierarchy whose release_agent the container
   * would own. */
  TRY(mount("cgroup", "/tmp", "cgroup", 0, "rdma"));
  return "ok";
}

static const char *mount_fsopen(void) {
  TRY(syscall(SYS_fsopen, "proc", 0));
  return "ok";
}

static const char *umount_path(const char *path) {
  TRY(umount2(path, MNT_DETACH));
  return "ok";
}

static const char *pivot(void) {
  TRY(syscall(SYS_pivot_root, "/tmp", "/tmp"));
  return "ok";
}

static const char *userns_proc(void) {
  /* unshare a user namespace, become its root, mount a fresh proc */
  uid_t uid = getuid();
  gid_t gid = getgid();
  TRY(unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID));
  char map[64];
  int fd = open("/proc/self/setgroups", O_WRONLY);
  if (fd >= 0) { (void)!write(fd, "deny", 4); close(fd); }
  snprintf(map, sizeof map, "0 %u 1", uid);
  TRY(fd = open("/proc/self/uid_map", O_WRONLY));
  TRY(write(fd, map, strlen(map)));
  close(fd);
  snprintf(map, sizeof map, "0 %u 1", gid);
  TRY(fd = open("/proc/self/gid_map", O_WRONLY));
  TRY(write(fd, map, strlen(map)));
  close(fd);
  TRY(mount("proc", "/proc", "proc", 0, NULL));
  return "ok";
}

static const char *clone_newuser(void) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  TRY(pid);
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return "ok";
}

static const char *setns_path(const char *path) {
  int fd;
  TRY(fd = open(path, O_RDONLY));
  TRY(setns(fd, 0));
  return "ok";
}

/* The classic chroot escape: chroot into a subdirectory while keeping the
 * cwd outside it, climb, chroot there.  Pivot_root'd containers climb back
 * to their own root; `marker` (a host path) must stay unseen. */
static const char *chroot_escape(const char *marker) {
  mkdir("/dev/shm/jail", 0700);
  TRY(chroot("/dev/shm/jail"));
  for (int i = 0; i < 64; i++) TRY(chdir(".."));
  TRY(chroot("."));
  struct stat st;
  return stat(marker, &st) == 0 ? "ok" : "contained";
}

/* mknod a device node and open it: CAP_MKNOD may allow the node, the device
 * cgroup must refuse the open. */
static const char *mknod_open(const char *name, mode_t type, dev_t dev) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/%s", name);
  unlink(path);
  TRY(mknod(path, type | 0600, dev));
  int fd;
  TRY(fd = open(path, O_RDONLY));
  char c;
  ssize_t n = read(fd, &c, 1);
  close(fd);
  TRY(n);
  return "ok";
}

/* The host's disk, as the container can learn it: the device of the bind
 * mount on /etc/hostname. */
static const char *mknod_disk(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return err();
  char line[4096];
  unsigned maj = 0, min = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned a, b;
    char mp[1024];
    if (sscanf(line, "%*u %*u %u:%u %*s %1023s", &a, &b, mp) == 3 &&
        strcmp(mp, "/etc/hostname") == 0) {
      maj = a;
      min = b;
    }
  }
  fclose(f);
  if (!maj) { maj = 8; min = 0; }
  return mknod_open("disk", S_IFBLK, makedev(maj, min));
}

static const char *open_rw(const char *path) {
  int fd;
  TRY(fd = open(path, O_RDWR));
  close(fd);
  return "ok";
}

static const char *add_key_(void) {
  TRY(syscall(SYS_add_key, "user", "escape", "x", 1, KEY_SPEC_SESSION_KEYRING));
  return "ok";
}

static const char *keyctl_join(void) {
  TRY(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "escape"));
  return "ok";
}

static const char *request_key_(void) {
  TRY(syscall(SYS_request_key, "user", "escape", NULL, KEY_SPEC_SESSION_KEYRING));
  return "ok";
}

static const char *ptrace_pid(pid_t pid) {
  TRY(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, pid, 0, 0));
  syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, pid, 0, 0);
  return "ok";
}

static const char *vm_read(pid_t pid) {
  char buf[8];
  struct iovec l = {buf, sizeof buf}, r = {(void *)0x400000, sizeof buf};
  TRY(process_vm_readv(pid, &l, 1, &r, 1, 0));
  return "ok";
}

static const char *proc_mem(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", pid);
  return open_rw(path);
}

static const char *kill_pid(pid_t pid) {
  TRY(kill(pid, SIGKILL));
  return "ok";
}

static const char *kill_all(void) {
  TRY(kill(-1, SIGKILL)); /* everything this process may signal */
  return "ok";
}

static const char *shocker(void) {
  /* open_by_handle_at on inode 2 (the root of an ext4 filesystem) through
   * a bind-mounted host file */
  struct {
    unsigned int handle_bytes;
    int handle_type;
    uint32_t ino, gen;
  } h = {8, 1, 2, 0};
  int fd;
  TRY(fd = open("/etc/hostname", O_RDONLY));
  TRY(syscall(SYS_open_by_handle_at, fd, &h, O_RDONLY));
  return "ok";
}

static const char *bpf_load(void) {
  struct bpf_insn prog[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT},
  };
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = 2;
  a.license = (uintptr_t) "GPL";
  TRY(syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a));
  return "ok";
}

static const char *perf_open(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_SOFTWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_SW_CPU_CLOCK;
  /* all processes on cpu 0: what a host profiler sees */
  TRY(syscall(SYS_perf_event_open, &a, -1, 0, -1, 0));
  return "ok";
}

static const char *kexec(void) {
  TRY(syscall(SYS_kexec_load, 0, 0, NULL, 0));
  return "ok";
}

static const char *kexec_file(void) {
  int fd;
  TRY(fd = open("/proc/self/exe", O_RDONLY));
  TRY(syscall(SYS_kexec_file_load, fd, fd, 1, "", 0));
  return "ok";
}

static const char *init_module_(void) {
  static char junk[64] = "\x7f" "ELF";
  TRY(syscall(SYS_init_module, junk, sizeof junk, ""));
  return "ok";
}

static const char *finit_module_(void) {
  int fd;
  TRY(fd = open("/proc/self/exe", O_RDONLY));
  TRY(syscall(SYS_finit_module, fd, "", 0));
  return "ok";
}

static const char *delete_module_(void) {
  TRY(syscall(SYS_delete_module, "overlay", O_NONBLOCK));
  return "ok";
}

static const char *sethostname_(void) {
  char name[256];
  TRY(gethostname(name, sizeof name));
  TRY(sethostname(name, strlen(name)));
  return "ok";
}

static const char *settime(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  TRY(clock_settime(CLOCK_REALTIME, &t));
  return "ok";
}

static const char *adjtime_(void) {
  struct timex t;
  memset(&t, 0, sizeof t);
  TRY(adjtimex(&t));
  t.modes = ADJ_TICK; /* the tick it has now */
  TRY(adjtimex(&t));
  return "ok";
}

static const char *swapon_(void) {
  TRY(swapon("/dev/shm/swap", 0));
  return "ok";
}

static const char *reboot_(void) {
  /* ctrl-alt-del handling: a no-op in a pid namespace, harmless on a host */
  TRY(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
              LINUX_REBOOT_CMD_CAD_ON, NULL));
  return "ok";
}

static const char *iopl_(void) {
  TRY(syscall(SYS_iopl, 3));
  return "ok";
}

static const char *ioperm_(void) {
  TRY(syscall(SYS_ioperm, 0x80, 1, 1));
  return "ok";
}

static const char *acct_(void) {
  TRY(syscall(SYS_acct, "/dev/shm/acct"));
  return "ok";
}

static const char *userfaultfd_(void) {
  TRY(syscall(SYS_userfaultfd, 0));
  return "ok";
}

/* Every v1 controller directory (and the v2 root) the container sees. */
static const char *cgroup_each(int (*f)(const char *dir)) {
  DIR *d = opendir("/sys/fs/cgroup");
  if (!d) return err();
  const char *res = "ENOENT";
  struct dirent *e;
  int any = 0;
  char dir[512];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s", e->d_name);
    any = 1;
    if (f(dir) == 0) { res = "ok"; break; }
    res = err();
  }
  closedir(d);
  /* a v2 mount has its files right there */
  if (!any && f("/sys/fs/cgroup") == 0) res = "ok";
  return res;
}

static int cg_mkdir(const char *dir) {
  char p[600];
  snprintf(p, sizeof p, "%s/escape-probe", dir);
  if (mkdir(p, 0755) < 0) return -1;
  rmdir(p);
  return 0;
}

static int cg_file(const char *dir, const char *file) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  const char *r = write_same(p);
  return strcmp(r, "ok") == 0 ? 0 : -1;
}

static int cg_release(const char *dir) { return cg_file(dir, "release_agent"); }
static int cg_notify(const char *dir) { return cg_file(dir, "notify_on_release"); }
static int cg_procs(const char *dir) { return cg_file(dir, "cgroup.procs"); }

/* The fds this process holds, but for the one listing them. */
static const char *fds(void) {
  static char out[1024];
  DIR *d = opendir("/proc/self/fd");
  if (!d) return err();
  int own = dirfd(d), n[256], k = 0;
  struct dirent *e;
  while ((e = readdir(d)) && k < 256)
    if (e->d_name[0] != '.' && atoi(e->d_name) != own) n[k++] = atoi(e->d_name);
  closedir(d);
  for (int i = 1; i < k; i++)
    for (int j = i; j > 0 && n[j - 1] > n[j]; j--) { int t = n[j]; n[j] = n[j - 1]; n[j - 1] = t; }
  out[0] = 0;
  for (int i = 0; i < k; i++)
    snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", i ? "," : "", n[i]);
  return out;
}

/* The O_PATH fd `path` of a runtime's executable: root of a user namespace of
 * its own (no capability needed, only a seccomp profile that allows it) may
 * clear the read-only flag of a detached mount, so a runtime run from a
 * read-only bind mount of itself is writable after all. 1 when a write of
 * the file's own first bytes went through. */
static int userns_write(int path) {
  pid_t c = fork();
  if (c == 0) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) _exit(2);
    const char *maps[][2] = {{"/proc/self/setgroups", "deny"},
                             {"/proc/self/uid_map", "0 0 1"},
                             {"/proc/self/gid_map", "0 0 1"}};
    for (int i = 0; i < 3; i++) {
      int f = open(maps[i][0], O_WRONLY);
      if (f >= 0) { (void)!write(f, maps[i][1], strlen(maps[i][1])); close(f); }
    }
    struct { uint64_t set, clr, propagation, userns_fd; } attr = {0, 1 /* RDONLY */, 0, 0};
    syscall(442 /* mount_setattr */, path, "", 0x1000 /* AT_EMPTY_PATH */, &attr, sizeof attr);
    char via[64];
    snprintf(via, sizeof via, "/proc/self/fd/%d", path);
    int fd = open(via, O_WRONLY);
    _exit(fd >= 0 && pwrite(fd, "\x7f" "ELF", 4, 0) == 4 ? 0 : 1);
  }
  int st = 0;
  if (c < 0 || waitpid(c, &st, 0) < 0) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* CVE-2019-5736: for `secs` seconds, catch any process in the container
 * whose executable is not the probe's or busybox's (a runtime entering the
 * container) and try to open that executable for writing; keep an O_PATH fd
 * of it and try again until the time is up (once the runtime has exited the
 * file is no longer busy), also through a user namespace of its own
 * (userns_write); `wrote` when a write of its own first bytes went through (a
 * copy-in-memory runtime is told apart by the test from the exe's name). */
static const char *exewatch(const char *arg) {
  static char out[1024] = "none";
  time_t end = time(NULL) + atoi(arg);
  char self[256] = "", bb[256] = "";
  (void)!readlink("/proc/self/exe", self, sizeof self - 1);
  (void)!readlink("/bin/busybox", bb, sizeof bb - 1);
  int seen = 0, held[64], nheld = 0;
  char names[64][256];
  while (time(NULL) < end) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == getpid()) continue;
      char p[64], exe[256] = "";
      snprintf(p, sizeof p, "/proc/%d/exe", pid);
      if (readlink(p, exe, sizeof exe - 1) <= 0) continue;
      if (!strcmp(exe, self) || !strcmp(exe, "/bin/busybox") || !strcmp(exe, bb)) continue;
      seen++;
      int fd = open(p, O_WRONLY);
      if (fd < 0 && nheld < 64) {
        /* kept: the file may become writable once the runtime has exited */
        int path = open(p, O_PATH);
        if (path >= 0) {
          held[nheld] = path;
          snprintf(names[nheld++], sizeof names[0], "%s", exe);
        }
      }
      if (fd >= 0) {
        ssize_t w = pwrite(fd, "\x7f" "ELF", 4, 0);
        close(fd);
        if (w == 4) {
          snprintf(out, sizeof out, "wrote %s", exe);
          closedir(d);
          return out;
        }
      }
    }
    if (d) closedir(d);
    for (int i = 0; i < nheld; i++) {
      char via[64];
      snprintf(via, sizeof via, "/proc/self/fd/%d", held[i]);
      int fd = open(via, O_WRONLY);
      int w = fd >= 0 && pwrite(fd, "\x7f" "ELF", 4, 0) == 4;
      if (fd >= 0) close(fd);
      if (!w && userns_write(held[i])) w = 2;
      if (w) {
        snprintf(out, sizeof out, "wrote %s%s", names[i], w == 2 ? " (through a user namespace)" : " (after its runtime exited)");
        return out;
      }
    }
  }
  snprintf(out, sizeof out, "none (runtime processes seen: %d, held: %d)", seen, nheld);
  return out;
}

/* CVE-2020-8558: a UDP datagram to 127.0.0.1:PORT, sent to the gateway's
 * MAC through an AF_PACKET socket.  `sent` when it left; the test checks
 * that the host's 127.0.0.1 listener never got it. */
static uint16_t csum(const void *p, size_t n) {
  const uint16_t *w = p;
  uint32_t s = 0;
  for (; n > 1; n -= 2) s += *w++;
  if (n) s += *(const uint8_t *)w;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s;
}

static const char *raw_localhost(const char *arg) {
  int port = atoi(arg);
  char ifname[IFNAMSIZ] = "", line[512];
  uint32_t gw = 0;
  FILE *f = fopen("/proc/net/route", "r");
  if (!f) return err();
  while (fgets(line, sizeof line, f)) {
    char ifn[IFNAMSIZ];
    unsigned dst, g;
    if (sscanf(line, "%15s %x %x", ifn, &dst, &g) == 3 && dst == 0 && g) {
      strcpy(ifname, ifn);
      gw = g;
    }
  }
  fclose(f);
  if (!gw) return "ENETUNREACH";
  int s;
  TRY(s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP)));
  /* learn the gateway's MAC: any datagram to it makes the kernel ARP */
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in gsa = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr = {gw}};
  sendto(u, "", 0, 0, (void *)&gsa, sizeof gsa);
  unsigned char mac[6] = {0}, own[6];
  char gws[32];
  inet_ntop(AF_INET, &gw, gws, sizeof gws);
  for (int i = 0; i < 40 && !mac[0] && !mac[1] && !mac[2]; i++) {
    usleep(50000);
    f = fopen("/proc/net/arp", "r");
    while (f && fgets(line, sizeof line, f)) {
      char ip[32];
      unsigned m[6];
      if (sscanf(line, "%31s %*s %*s %x:%x:%x:%x:%x:%x", ip, &m[0], &m[1], &m[2], &m[3], &m[4],
                 &m[5]) == 7 && !strcmp(ip, gws))
        for (int k = 0; k < 6; k++) mac[k] = m[k];
    }
    if (f) fclose(f);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, ifname);
  TRY(ioctl(u, SIOCGIFHWADDR, &ifr));
  memcpy(own, ifr.ifr_hwaddr.sa_data, 6);
  TRY(ioctl(u, SIOCGIFADDR, &ifr));
  uint32_t src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
  unsigned char frame[128];
  memset(frame, 0, sizeof frame);
  struct ether_header *eh = (void *)frame;
  struct iphdr *ip = (void *)(frame + sizeof *eh);
  struct udphdr *udp = (void *)(ip + 1);
  const char msg[] = "escape";
  memcpy(eh->ether_dhost, mac, 6);
  memcpy(eh->ether_shost, own, 6);
  eh->ether_type = htons(ETH_P_IP);
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->saddr = src;
  ip->daddr = htonl(INADDR_LOOPBACK);
  ip->tot_len = htons(sizeof *ip + sizeof *udp + sizeof msg - 1);
  ip->check = csum(ip, sizeof *ip);
  udp->source = htons(40000);
  udp->dest = htons(port);
  udp->len = htons(sizeof *udp + sizeof msg - 1);
  memcpy(udp + 1, msg, sizeof msg - 1);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                            .sll_protocol = htons(ETH_P_IP),
                            .sll_ifindex = (int)if_nametoindex(ifname),
                            .sll_halen = 6};
  memcpy(sll.sll_addr, mac, 6);
  size_t len = sizeof *eh + ntohs(ip->tot_len);
  for (int i = 0; i < 5; i++) {
    TRY(sendto(s, frame, len, 0, (void *)&sll, sizeof sll));
    usleep(20000);
  }
  return "sent";
}

static const char *attempt(const char *name, const char *arg) {
#define IS(n) (strcmp(name, n) == 0)
  if (IS("sysrq")) return sysrq();
  if (IS("write")) return write_same(arg);
  if (IS("read_masked")) return read_masked(arg);
  if (IS("mount_proc")) return mount_proc();
  if (IS("mount_bind_root")) return mount_bind_root();
  if (IS("remount_root_rw")) return remount_root_rw();
  if (IS("mount_cgroup")) return mount_cgroup();
  if (IS("fsopen")) return mount_fsopen();
  if (IS("umount")) return umount_path(arg);
  if (IS("pivot_root")) return pivot();
  if (IS("userns_proc")) return userns_proc();
  if (IS("clone_newuser")) return clone_newuser();
  if (IS("setns")) return setns_path(arg);
  if (IS("chroot_escape")) return chroot_escape(arg);
  if (IS("mknod_mem")) return mknod_open("mem", S_IFCHR, makedev(1, 1));
  if (IS("mknod_disk")) return mknod_disk();
  if (IS("open_rw")) return open_rw(arg);
  if (IS("add_key")) return add_key_();
  if (IS("keyctl_join")) return keyctl_join();
  if (IS("request_key")) return request_key_();
  if (IS("ptrace")) return ptrace_pid(atoi(arg));
  if (IS("vm_read")) return vm_read(atoi(arg));
  if (IS("proc_mem")) return proc_mem(atoi(arg));
  if (IS("kill")) return kill_pid(atoi(arg));
  if (IS("kill_all")) return kill_all();
  if (IS("shocker")) return shocker();
  if (IS("bpf")) return bpf_load();
  if (IS("perf_event_open")) return perf_open();
  if (IS("kexec_load")) return kexec();
  if (IS("kexec_file_load")) return kexec_file();
  if (IS("init_module")) return init_module_();
  if (IS("finit_module")) return finit_module_();
  if (IS("delete_module")) return delete_module_();
  if (IS("sethostname")) return sethostname_();
  if (IS("settime")) return settime();
  if (IS("adjtimex")) return adjtime_();
  if (IS("swapon")) return swapon_();
  if (IS("reboot")) return reboot_();
  if (IS("iopl")) return iopl_();
  if (IS("ioperm")) return ioperm_();
  if (IS("acct")) return acct_();
  if (IS("userfaultfd")) return userfaultfd_();
  if (IS("cgroup_mkdir")) return cgroup_each(cg_mkdir);
  if (IS("cgroup_release_agent")) return cgroup_each(cg_release);
  if (IS("cgroup_notify")) return cgroup_each(cg_notify);
  if (IS("cgroup_procs")) return cgroup_each(cg_procs);
  if (IS("fds")) return fds();
  if (IS("exewatch")) return exewatch(arg);
  if (IS("raw_localhost")) return raw_localhost(arg);
  return "unknown-attempt";
#undef IS
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int i = 1; i < argc; i++) {
    /* `fds` looks at this very process: no fork */
    char spec[1024];
    snprintf(spec, sizeof spec, "%s", argv[i]);
    char *eq = strchr(spec, '=');
    const char *arg = "";
    if (eq) { *eq = 0; arg = eq + 1; }
    if (!strcmp(spec, "fds")) {
      printf("%s: %s\n", argv[i], fds());
      continue;
    }
    pid_t pid = fork();
    if (pid < 0) { printf("%s: fork %s\n", argv[i], err()); continue; }
    if (pid == 0) {
      printf("%s: %s\n", argv[i], attempt(spec, arg));
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) printf("%s: signal %d\n", argv[i], WTERMSIG(st));
  }
  return 0;
}
