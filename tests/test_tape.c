/* placeholder: the tape suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("tape");
    return tt_run(s);
}
