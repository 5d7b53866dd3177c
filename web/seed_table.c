/* The seed table (derivations --json) for the page. */
#include "playground.h"

#include <stdlib.h>
#include <string.h>

char *pg_seed_table(void)
{
    const char *s = "{\"ok\":false,\"error\":\"the seed table is not in this build\"}";
    char *r = malloc(strlen(s) + 1);
    if (r) strcpy(r, s);
    return r;
}
