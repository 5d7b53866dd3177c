/* The playground natively: prints pg_evaluate's, pg_backward's and
 * pg_gradcheck's JSON for a formula, one object a line.  The browser test
 * compares the page's gradients with these (the same C, built natively).
 *
 *   pg_cli FORMULA VARIABLES
 *   pg_cli --seed-table */
#include "playground.h"

#include <stdio.h>
#include <string.h>

static int print(char *json)
{
    if (!json) return 1;
    /* One object a line: the JSON's new lines are only whitespace. */
    for (char *p = json; *p; p++)
        if (*p == '\n') *p = ' ';
    puts(json);
    int ok = strncmp(json, "{\"ok\":true", 10) == 0;
    pg_free(json);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--seed-table") == 0) {
        char *json = pg_seed_table();
        if (!json) return 1;
        fputs(json, stdout);
        pg_free(json);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: pg_cli FORMULA VARIABLES | pg_cli --seed-table\n");
        return 2;
    }
    if (print(pg_evaluate(argv[1], argv[2]))) return 1;
    int bad = print(pg_backward());
    bad |= print(pg_gradcheck());
    return bad;
}
