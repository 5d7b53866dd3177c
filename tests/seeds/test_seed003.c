/* placeholder: seed 003 suite is being written */
#include "common.h"
#include "seed_nets.h"

int main(void)
{
    Suite *s = suite_create("seed003");
    return tt_run(s);
}
