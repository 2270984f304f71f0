/*
 * serve/serve.c: the server's state, admission and counters (serve.h).
 */
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

struct serve_state *serve_state_new(const struct serve_config *config, uint64_t (*wall_clock_s)(void))
{
    struct serve_state *state = malloc(sizeof *state);
    if (state == NULL)
        return NULL;
    memset(state, 0, sizeof *state);
    if (config != NULL)
        state->config = *config;
    struct serve_config *c = &state->config;
    if (c->max_body == 0)
        c->max_body = SERVE_DEFAULT_MAX_BODY;
    if (c->idle_s == 0)
        c->idle_s = SERVE_DEFAULT_IDLE_S;
    if (c->max_conns == 0)
        c->max_conns = SERVE_DEFAULT_MAX_CONNS;
    if (c->max_response == 0)
        c->max_response = SERVE_DEFAULT_MAX_RESPONSE;
    if (c->max_depth == 0)
        c->max_depth = SERVE_DEFAULT_MAX_DEPTH;
    state->wall_clock_s = wall_clock_s;
    state->repo = irmin_repo_create();
    if (irmin_path_make(state->repo, 0, NULL, NULL, &state->root) != IRMIN_OK) {
        irmin_repo_free(state->repo);
        free(state);
        return NULL;
    }
    return state;
}

void serve_state_free(struct serve_state *state)
{
    if (state == NULL)
        return;
    irmin_path_free(state->repo, state->root);
    irmin_repo_free(state->repo);
    free(state);
}

const struct serve_config *serve_state_config(const struct serve_state *state)
{
    return &state->config;
}

struct irmin_repo *serve_state_repo(struct serve_state *state)
{
    return state->repo;
}

bool serve_admit(struct serve_state *state)
{
    if (state->stats.connections_open >= state->config.max_conns) {
        state->stats.connections_refused++;
        return false;
    }
    state->stats.connections_open++;
    return true;
}

void serve_release(struct serve_state *state)
{
    if (state->stats.connections_open > 0)
        state->stats.connections_open--;
}

void serve_get_stats(const struct serve_state *state, struct serve_stats *stats)
{
    *stats = state->stats;
}
