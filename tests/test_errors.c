/* placeholder: the errors suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("errors");
    return tt_run(s);
}
