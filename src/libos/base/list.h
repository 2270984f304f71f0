/*
 * base/list.h: intrusive circular doubly-linked lists (the Linux list_head idiom).
 *
 * A list is a `struct list_node` head; elements embed a node and are recovered with
 * list_entry(). An unlinked node points at itself, so list_linked() tells whether a node is on
 * some list and list_del() is safe to call twice.
 */
#ifndef LIBOS_BASE_LIST_H
#define LIBOS_BASE_LIST_H

#include "base/base.h"

struct list_node {
    struct list_node *next;
    struct list_node *prev;
};

#define LIST_INIT(name) { &(name), &(name) }

static inline void list_init(struct list_node *node) {
    node->next = node;
    node->prev = node;
}

static inline bool list_empty(const struct list_node *head) { return head->next == head; }

/* True when `node` is on a list (list_init'ed and list_del'ed nodes point at themselves). */
static inline bool list_linked(const struct list_node *node) { return node->next != node; }

static inline void list_insert_between(struct list_node *node, struct list_node *prev,
                                       struct list_node *next) {
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

/* Appends at the tail (FIFO order with list_pop_front). */
static inline void list_push_back(struct list_node *head, struct list_node *node) {
    list_insert_between(node, head->prev, head);
}

static inline void list_push_front(struct list_node *head, struct list_node *node) {
    list_insert_between(node, head, head->next);
}

/* Inserts `node` just before `pos` (pos may be the head: then it appends). */
static inline void list_insert_before(struct list_node *pos, struct list_node *node) {
    list_insert_between(node, pos->prev, pos);
}

static inline void list_del(struct list_node *node) {
    node->prev->next = node->next;
    node->next->prev = node->prev;
    list_init(node);
}

static inline struct list_node *list_pop_front(struct list_node *head) {
    if (list_empty(head)) return NULL;
    struct list_node *node = head->next;
    list_del(node);
    return node;
}

#define list_entry(node, type, member) container_of(node, type, member)

#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)

/* Iteration that tolerates list_del(pos) in the body. */
#define list_for_each_safe(pos, tmp, head) \
    for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
