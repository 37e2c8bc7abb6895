/* SPDX-License-Identifier: MIT */
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Redraw at most this often (nanoseconds); progress_free() draws the final state. */
#define REDRAW_INTERVAL_NS 100000000LL
#define LABEL_MAX 64
#define STATUS_MAX 16

typedef struct progress_item {
	char label[LABEL_MAX];
	char status[STATUS_MAX]; /* empty while in progress */
	uint64_t done, total;
} progress_item;

struct progress {
	bool enabled;
	pthread_mutex_t lock;
	progress_item *items;
	int n, cap;
	int drawn;	     /* lines on screen from the last redraw */
	long long last_draw; /* monotonic ns */
	FILE *out;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void human(uint64_t bytes, char *buf, size_t len)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f%s", v, units[u]);
	else
		snprintf(buf, len, "%.1f%s", v, units[u]);
}

/* Caller holds the lock. */
static void redraw(progress *p)
{
	FILE *o = p->out;
	if (p->drawn > 0)
		fprintf(o, "\033[%dA", p->drawn);
	for (int i = 0; i < p->n; i++) {
		const progress_item *it = &p->items[i];
		char d[16], t[16];
		human(it->done, d, sizeof(d));
		human(it->total, t, sizeof(t));
		fprintf(o, "\r\033[K%-40s ", it->label);
		if (it->status[0] && it->total)
			fprintf(o, "%9s  %s\n", t, it->status);
		else if (it->status[0])
			fprintf(o, "%9s  %s\n", "", it->status);
		else if (it->total)
			fprintf(o, "%9s / %s\n", d, t);
		else
			fprintf(o, "%9s\n", d);
	}
	fflush(o);
	p->drawn = p->n;
	p->last_draw = now_ns();
}

progress *progress_new(bool enabled)
{
	progress *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->enabled = enabled;
	p->out = stdout;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void progress_free(progress *p)
{
	if (!p)
		return;
	if (p->enabled && p->n > 0) {
		pthread_mutex_lock(&p->lock);
		redraw(p);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->items);
	free(p);
}

/* Copy s into a fixed buffer, replacing control characters (labels may carry names from
 * images). */
static void copy_clean(char *dst, size_t len, const char *s)
{
	size_t j = 0;
	for (; s && *s && j + 1 < len; s++)
		dst[j++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	dst[j] = 0;
}

int progress_add(progress *p, const char *label, uint64_t total)
{
	if (!p)
		return -1;
	pthread_mutex_lock(&p->lock);
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 8;
		progress_item *n = realloc(p->items, (size_t)cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&p->lock);
			return -1;
		}
		p->items = n;
		p->cap = cap;
	}
	int id = p->n++;
	progress_item *it = &p->items[id];
	*it = (progress_item){.total = total};
	copy_clean(it->label, sizeof(it->label), label);
	if (p->enabled && now_ns() - p->last_draw >= REDRAW_INTERVAL_NS)
		redraw(p);
	pthread_mutex_unlock(&p->lock);
	return id;
}

static progress_item *item(progress *p, int id)
{
	return id >= 0 && id < p->n ? &p->items[id] : NULL;
}

void progress_update(progress *p, int id, uint64_t done)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	progress_item *it = item(p, id);
	if (it) {
		it->done = done;
		if (p->enabled && now_ns() - p->last_draw >= REDRAW_INTERVAL_NS)
			redraw(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_set_total(progress *p, int id, uint64_t total)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	progress_item *it = item(p, id);
	if (it) {
		it->total = total;
		if (p->enabled && now_ns() - p->last_draw >= REDRAW_INTERVAL_NS)
			redraw(p);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_done(progress *p, int id, const char *status)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	progress_item *it = item(p, id);
	if (it) {
		copy_clean(it->status, sizeof(it->status), status && *status ? status : "done");
		if (p->enabled && now_ns() - p->last_draw >= REDRAW_INTERVAL_NS)
			redraw(p);
	}
	pthread_mutex_unlock(&p->lock);
}
