/* Verifies one token with libmacaroons (the C reference library), for tests/interop.rs.
 * usage: libmacaroons_verify KEY TOKEN [-e PREDICATE]... [-d DISCHARGE]...
 * exit 0: valid, 1: invalid, 2: could not deserialize or bad usage. */
#include <macaroons.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s KEY TOKEN [-e PREDICATE]... [-d DISCHARGE]...\n", argv[0]);
        return 2;
    }
    enum macaroon_returncode err = MACAROON_SUCCESS;
    struct macaroon* m = macaroon_deserialize(argv[2], &err);
    if (!m) {
        fprintf(stderr, "deserialize: %d\n", err);
        return 2;
    }
    struct macaroon_verifier* v = macaroon_verifier_create();
    struct macaroon* discharges[64];
    size_t count = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-e") == 0) {
            macaroon_verifier_satisfy_exact(v, (const unsigned char*)argv[i + 1], strlen(argv[i + 1]), &err);
        } else if (strcmp(argv[i], "-d") == 0 && count < 64) {
            discharges[count] = macaroon_deserialize(argv[i + 1], &err);
            if (!discharges[count]) {
                fprintf(stderr, "deserialize discharge: %d\n", err);
                return 2;
            }
            count++;
        }
    }
    int rc = macaroon_verify(v, m, (const unsigned char*)argv[1], strlen(argv[1]), discharges, count, &err);
    printf("%s (%d)\n", rc == 0 ? "valid" : "invalid", err);
    return rc == 0 ? 0 : 1;
}
