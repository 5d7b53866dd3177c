/* placeholder: the activation suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("activation");
    return tt_run(s);
}
