#include <stdio.h>

int main(void) {
	puts("Hello from C, built by a strata build step!");
	return 0;
}
