<?php

declare(strict_types=1);

/*
 * Reads a JSON array of {"receipt": {...}, "date": "YYYY-MM-DD"} on stdin and writes a
 * JSON array of the outcomes of Receipt::fromArray: {"wire": {...}} when the receipt
 * passes, {"path": "...", "reason": "..."} when it does not. The pytest suite compares
 * them with the server's own rules (tests/e2e/client_php/test_php_receipt_rules.py).
 */

set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

require dirname(__DIR__) . '/autoload.php';

$cases = json_decode((string) stream_get_contents(STDIN), true, 64, JSON_THROW_ON_ERROR);
$out = [];
foreach ($cases as $case) {
    try {
        $receipt = Kassagate\Receipt::fromArray($case['receipt'], new DateTimeImmutable($case['date']));
        $out[] = ['wire' => $receipt->toArray()];
    } catch (Kassagate\Exception\ReceiptInvalid $e) {
        $out[] = ['path' => $e->path, 'reason' => $e->reason];
    }
}
echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR), "\n";
