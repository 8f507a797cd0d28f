// carelogctl — the operator and compliance CLI for carelog
// (ops/carelogctl/cli.h: commands and exit codes).
#include "ops/carelogctl/cli.h"

int main(int argc, char** argv) {
  return carelog::ctl::Main(argc, argv);
}
