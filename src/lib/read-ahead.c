/* SPDX-License-Identifier: MIT */
#include "read-ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define RA_SLOTS 4
#define RA_SLOT_SIZE (1u << 20)

typedef struct ra_slot {
	unsigned char *data;
	size_t len;
} ra_slot;

struct read_ahead {
	unpack_read_fn rd;
	void *opaque;
	berth_err *rd_err;
	sha256_ctx *hash;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	ra_slot slot[RA_SLOTS];
	size_t head, count;  /* filled slots: head .. head + count - 1 (mod RA_SLOTS) */
	bool consumer_holds; /* the consumer still reads the slot at head */
	bool eof, stop;
	ssize_t fail;
	berth_err err; /* copy of *rd_err at the failure */
};

/* Fill one buffer as far as the source goes: fewer, larger hand-overs. */
static ssize_t fill_slot(read_ahead *ra, unsigned char *buf)
{
	size_t have = 0;
	while (have < RA_SLOT_SIZE) {
		ssize_t n = ra->rd(ra->opaque, buf + have, RA_SLOT_SIZE - have);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	return (ssize_t)have;
}

static void *producer(void *arg)
{
	read_ahead *ra = arg;
	pthread_mutex_lock(&ra->lock);
	for (;;) {
		/* The slot the consumer holds is not free until it asks for the next one. */
		while (!ra->stop && ra->count >= RA_SLOTS)
			pthread_cond_wait(&ra->cond, &ra->lock);
		if (ra->stop)
			break;
		size_t i = (ra->head + ra->count) % RA_SLOTS;
		unsigned char *buf = ra->slot[i].data;
		pthread_mutex_unlock(&ra->lock);

		ssize_t n = fill_slot(ra, buf);
		if (n > 0 && ra->hash)
			sha256_update(ra->hash, buf, (size_t)n);

		pthread_mutex_lock(&ra->lock);
		if (n < 0) {
			ra->fail = n;
			if (ra->rd_err)
				ra->err = *ra->rd_err;
		} else if (n == 0) {
			ra->eof = true;
		} else {
			ra->slot[i].len = (size_t)n;
			ra->count++;
		}
		pthread_cond_broadcast(&ra->cond);
		if (ra->fail || ra->eof)
			break;
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

int read_ahead_start(unpack_read_fn rd, void *opaque, berth_err *rd_err, sha256_ctx *hash,
		     read_ahead **out, berth_err *e)
{
	read_ahead *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return berr(e, -ENOMEM, "Out of memory starting to read a layer");
	*ra = (read_ahead){.rd = rd, .opaque = opaque, .rd_err = rd_err, .hash = hash};
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->cond, NULL);
	for (size_t i = 0; i < RA_SLOTS; i++) {
		ra->slot[i].data = malloc(RA_SLOT_SIZE);
		if (!ra->slot[i].data) {
			read_ahead_stop(ra);
			return berr(e, -ENOMEM, "Out of memory starting to read a layer");
		}
	}
	int k = pthread_create(&ra->thread, NULL, producer, ra);
	if (k != 0) {
		read_ahead_stop(ra);
		return berr_errno(e, -k, "Cannot start a thread to read a layer");
	}
	ra->started = true;
	*out = ra;
	return 0;
}

ssize_t read_ahead_next(read_ahead *ra, const void **buf)
{
	pthread_mutex_lock(&ra->lock);
	if (ra->consumer_holds) {
		/* done with the slot handed out last time: give it back to the producer */
		ra->consumer_holds = false;
		ra->head = (ra->head + 1) % RA_SLOTS;
		ra->count--;
		pthread_cond_broadcast(&ra->cond);
	}
	while (ra->count == 0 && !ra->eof && !ra->fail)
		pthread_cond_wait(&ra->cond, &ra->lock);
	ssize_t n;
	if (ra->count > 0) {
		ra->consumer_holds = true;
		*buf = ra->slot[ra->head].data;
		n = (ssize_t)ra->slot[ra->head].len;
	} else {
		*buf = NULL;
		n = ra->fail; /* 0 at the end */
	}
	pthread_mutex_unlock(&ra->lock);
	return n;
}

const berth_err *read_ahead_error(const read_ahead *ra)
{
	return ra->fail && ra->err.code ? &ra->err : NULL;
}

void read_ahead_stop(read_ahead *ra)
{
	if (!ra)
		return;
	if (ra->started) {
		pthread_mutex_lock(&ra->lock);
		ra->stop = true;
		pthread_cond_broadcast(&ra->cond);
		pthread_mutex_unlock(&ra->lock);
		pthread_join(ra->thread, NULL);
	}
	for (size_t i = 0; i < RA_SLOTS; i++)
		free(ra->slot[i].data);
	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->cond);
	free(ra);
}
