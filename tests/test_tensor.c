/* placeholder: the tensor suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("tensor");
    return tt_run(s);
}
