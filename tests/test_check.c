/* placeholder: the check suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("check");
    return tt_run(s);
}
