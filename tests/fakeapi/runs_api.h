/* runs_api: the Assistants runs routes (list, retrieve, cancel) of the API. */
#ifndef FAKEAPI_RUNS_API_H
#define FAKEAPI_RUNS_API_H

#include "http.h"
#include "server.h"

/* Answers GET .../threads/{t}/runs, GET .../runs/{r} and POST .../runs/{r}/cancel
 * where p->seg[start] is the first segment after the API prefix: writes the
 * body and returns the status; 0 (nothing written) for any other path. */
unsigned runs_api_answer(struct server *s, struct MHD_Connection *c, const struct req *r,
                         const char *method, const struct path *p, size_t start,
                         struct jbuf *out);

#endif
