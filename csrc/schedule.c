/*
 * schedule.c -- a resource-constrained pipeline schedule of identical work
 * items (the dataflow's tiles or output rows) through a line of stages.
 *
 * Stage s has servers[s] identical units, each busy service[s] cycles per
 * item.  Items enter stage 0 in order, all available at cycle 0, and are
 * served first come first served (with identical service times this is
 * round robin: item i uses the unit that item i - servers[s] used).  Between
 * stage s and s+1 a buffer holds up to capacity[s] finished items; a unit
 * of stage s may start an item only when that leaves at most
 * servers[s] + capacity[s] items in service at s or waiting after it, i.e.
 * once item i - servers[s] - capacity[s] has started stage s+1.  The last
 * stage delivers to memory and never blocks.
 *
 *   start(i,s)  = max(finish(i,s-1), finish(i-u_s,s), start(i-u_s-c_s,s+1))
 *   finish(i,s) = start(i,s) + service[s]
 *   makespan    = finish(nitems-1, nstages-1)
 *
 * The recurrence is walked item by item; only the last H = max(u+c)+1
 * items' start times are kept (a ring), so memory is O(H * nstages) and
 * time O(nitems * nstages).  When `start` is not NULL it receives every
 * start time, item-major (nitems * nstages values).
 */
#include <stdlib.h>
#include "fdafast.h"

#define AT(ring, i, s) ring[((i) % depth) * nstages + (s)]

int fda_pipeline(int64_t nitems, int64_t nstages, const int64_t *service,
                 const int64_t *servers, const int64_t *capacity, int64_t *start,
                 int64_t start_len, int64_t *makespan)
{
    if (!service || !servers || !capacity || !makespan) return FDA_ERR_NULL;
    if (nitems < 1 || nstages < 1 || nstages > FDA_MAX_STAGES) return FDA_ERR_GEOMETRY;
    if (start && start_len != nitems * nstages) return FDA_ERR_GEOMETRY;
    int64_t u[FDA_MAX_STAGES], c[FDA_MAX_STAGES];
    int64_t depth = 1;
    for (int64_t s = 0; s < nstages; ++s) {
        if (service[s] < 0 || servers[s] < 1 || capacity[s] < 0) return FDA_ERR_GEOMETRY;
        /* more units or buffer slots than items never bind */
        u[s] = servers[s] < nitems ? servers[s] : nitems;
        c[s] = capacity[s] < nitems ? capacity[s] : nitems;
        if (u[s] + c[s] + 1 > depth) depth = u[s] + c[s] + 1;
    }
    int64_t *ring = malloc((size_t)(depth * nstages) * sizeof(int64_t));
    if (!ring) return FDA_ERR_NOMEM;
    int64_t last = 0;
    for (int64_t i = 0; i < nitems; ++i) {
        int64_t ready = 0;                      /* finish at the previous stage */
        for (int64_t s = 0; s < nstages; ++s) {
            int64_t t = ready;
            if (i >= u[s]) {                    /* the unit's previous item is done */
                int64_t f = AT(ring, i - u[s], s) + service[s];
                if (f > t) t = f;
            }
            int64_t j = i - u[s] - c[s];
            if (s + 1 < nstages && j >= 0 && AT(ring, j, s + 1) > t)
                t = AT(ring, j, s + 1);         /* room after the stage */
            AT(ring, i, s) = t;
            if (start) start[i * nstages + s] = t;
            ready = t + service[s];
        }
        last = ready;
    }
    free(ring);
    *makespan = last;
    return FDA_OK;
}
