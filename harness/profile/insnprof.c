// SPDX-License-Identifier: GPL-2.0
/*
 * make profile: a QEMU TCG plugin that counts, for every guest kernel
 * instruction address, how many times the instruction there was executed,
 * and writes "address count" lines (hex, decimal) to out=FILE when QEMU
 * exits.  The harness attributes them to functions with the vmlinux
 * symbol table.
 *
 * Built against QEMU's plugin API version 1 (QEMU 7.2, Debian 12); the few
 * entry points used are declared here, with the ABI of that version, so
 * that no QEMU development package is needed.  Counting is inline (no
 * callback per instruction); with more than one vCPU the additions race,
 * so the harness runs the guest with one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
						 size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
						enum qemu_plugin_op op,
						void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb,
				    void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Kernel text is tens of thousands of hot addresses: plenty of room. */
#define NR_SLOTS	(1u << 21)
#define KERNEL_START	0xffff800000000000ull

struct slot {
	uint64_t addr;
	uint64_t count;
};

static struct slot *slots;
static unsigned long used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out_path[4096];

/* The counter of @addr, inserted if new; NULL when the table is full. */
static uint64_t *counter(uint64_t addr)
{
	uint64_t h = (addr * 0x9e3779b97f4a7c15ull) >> 43;

	for (;; h = (h + 1) & (NR_SLOTS - 1)) {
		if (slots[h].addr == addr)
			return &slots[h].count;
		if (!slots[h].addr) {
			if (used >= NR_SLOTS / 2)
				return NULL;
			used++;
			slots[h].addr = addr;
			return &slots[h].count;
		}
	}
}

static void translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	pthread_mutex_lock(&lock);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t addr = qemu_plugin_insn_vaddr(insn), *c;

		if (addr < KERNEL_START)
			continue;
		c = counter(addr);
		if (c)
			qemu_plugin_register_vcpu_insn_exec_inline(insn,
				QEMU_PLUGIN_INLINE_ADD_U64, c, 1);
	}
	pthread_mutex_unlock(&lock);
}

static void write_counts(qemu_plugin_id_t id, void *userdata)
{
	FILE *f = fopen(out_path, "w");
	size_t i;

	if (!f) {
		perror(out_path);
		return;
	}
	if (used >= NR_SLOTS / 2)
		fprintf(f, "# table full: addresses dropped\n");
	for (i = 0; i < NR_SLOTS; i++)
		if (slots[i].count)
			fprintf(f, "%llx %llu\n",
				(unsigned long long)slots[i].addr,
				(unsigned long long)slots[i].count);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc,
			char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
	if (!out_path[0]) {
		fprintf(stderr, "insnprof: out=FILE is required\n");
		return -1;
	}
	slots = calloc(NR_SLOTS, sizeof(*slots));
	if (!slots)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
	qemu_plugin_register_atexit_cb(id, write_counts, NULL);
	return 0;
}
