/* The cold-start floor: the least a Lambda bootstrap can do before asking for its first
 * event. Started like the webhook binary (same environment), it connects to
 * AWS_LAMBDA_RUNTIME_API, sends GET /next and waits to be killed. lambda-bench
 * (bench/drivers/src/bin/lambda-bench.rs) compiles it with cc -O2 and times it
 * interleaved with the real function; the difference is the function's own init. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    char host[64];
    const char *colon = strchr(api, ':');
    if (!colon || (size_t)(colon - api) >= sizeof host) return 2;
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = 0;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 3;
    char req[256];
    int n = snprintf(req, sizeof req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: %s\r\n\r\n", api);
    if (write(fd, req, (size_t)n) != n) return 3;
    pause();
    return 0;
}
