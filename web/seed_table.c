/* The seed table for the page: derivations --json, computed in the
 * browser by the same code (tests/seeds/sn_table.c and the seed networks). */
#include "playground.h"

#include "sn_table.h"

#include <stdlib.h>
#include <string.h>

char *pg_seed_table(void)
{
    int status = 0;
    char *json = sn_derivations(SN_JSON, 0, -1, &status);
    if (json) return json;
    const char *s = "{\"ok\":false,\"error\":\"the seed table could not be computed\"}";
    char *r = malloc(strlen(s) + 1);
    if (r) strcpy(r, s);
    return r;
}
