/* The `scorch inspect` subcommand (reads objects from local paths; see inspect.c). */
#ifndef SC_INSPECT_H
#define SC_INSPECT_H

/* argv[0] is "inspect". Returns the process exit code. */
int sc_inspect_main(int argc, char **argv);

#endif
