/* placeholder: seed 000 suite is being written */
#include "common.h"
#include "seed_nets.h"

int main(void)
{
    Suite *s = suite_create("seed000");
    return tt_run(s);
}
