<?php

declare(strict_types=1);

/*
 * The test suite of the PHP client: `php tests/run.php [name filter]`.
 *
 * The offline tests (envelope, receipt checks, status parsing) always run. The server
 * tests need a running kassagate front server and two kassas, named by environment
 * variables:
 *   KASSAGATE_URL, KASSAGATE_KASSAID, KASSAGATE_TOKEN: a kassa whose receipts are fiscalized;
 *   KASSAGATE_PENDING_URL, KASSAGATE_PENDING_KASSAID, KASSAGATE_PENDING_TOKEN: a kassa on a
 *   server without processing (`kassagate serve --no-workers`), whose requests stay pending.
 * Without them the server tests are listed as skipped. The last line is "N passed, N failed";
 * the exit status is 0 when nothing failed.
 */

error_reporting(E_ALL);
set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

require dirname(__DIR__) . '/autoload.php';
require __DIR__ . '/Harness.php';
require __DIR__ . '/support.php';

$harness = new Kassagate\Tests\Harness();
foreach (['EnvelopeTest.php', 'ReceiptTest.php', 'StatusTest.php', 'ServerTest.php'] as $file) {
    (require __DIR__ . '/' . $file)($harness);
}
exit($harness->run($argv[1] ?? null));
