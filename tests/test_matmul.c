/* placeholder: the matmul suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("matmul");
    return tt_run(s);
}
