<?php

declare(strict_types=1);

namespace Kassagate\Tests;

use Kassagate\Client;
use Kassagate\Envelope;
use Kassagate\Exception\AuthError;
use Kassagate\Exception\EnvelopeError;
use Kassagate\Exception\KeysError;
use Kassagate\Exception\ReceiptInvalid;
use Kassagate\Exception\StatusNotFound;
use Kassagate\Exception\TransportError;
use Kassagate\Exception\WaitTimeout;
use Kassagate\Payment;
use Kassagate\PublicKeys;
use Kassagate\Receipt;
use Kassagate\ReceiptBuilder;
use Kassagate\Status;
use Kassagate\TaxSystem;
use Kassagate\Vat;

/*
 * Against a running kassagate front server (see run.php for the environment variables).
 */
return static function (Harness $t): void {
    $env = static fn (string $name): ?string => ($v = getenv($name)) === false || $v === '' ? null : $v;
    $url = $env('KASSAGATE_URL');
    $kassaid = $env('KASSAGATE_KASSAID');
    $token = $env('KASSAGATE_TOKEN');
    $pendingUrl = $env('KASSAGATE_PENDING_URL');
    $pendingKassaid = $env('KASSAGATE_PENDING_KASSAID');
    $pendingToken = $env('KASSAGATE_PENDING_TOKEN');
    $names = [
        'server: connectivity check and test mode (the server opens the envelope)',
        'server: a sale fiscalized end to end, fiscal data and QR string read back',
        'server: the same RID twice names the same request',
        'server: a wrong token or an unknown kassa is an AuthError',
        'server: a tampered envelope is an EnvelopeError (HMAC 130, RSA 120)',
        'server: a receipt the server refuses is a ReceiptInvalid with its path',
        'server: pinned keys, given keys, unknown status, unreachable server',
        'server: a pending request polled',
    ];
    if ($url === null || $kassaid === null || $token === null || $pendingUrl === null || $pendingKassaid === null || $pendingToken === null) {
        foreach ($names as $name) {
            $t->skip($name, 'KASSAGATE_URL, KASSAGATE_KASSAID, KASSAGATE_TOKEN and KASSAGATE_PENDING_* are not all set');
        }
        return;
    }
    $client = static fn (array $options = []): Client => new Client($url, $kassaid, $token, $options);
    $receipt = static fn (int $price = 15000, string $name = 'Green tea 100 g'): Receipt => ReceiptBuilder::sale(TaxSystem::SIMPLIFIED_INCOME)
        ->line($name, $price, quantity: 2, vat: Vat::VAT_10)
        ->line('Salt', 1999, quantity: '0.75')
        ->pay(Payment::CASH, 1000)
        ->payRest(Payment::ELECTRONIC)
        ->email('buyer@example.com')
        ->order('php-client test')
        ->build();
    $runId = bin2hex(random_bytes(4));

    $t->test($names[0], static function () use ($client, $receipt): void {
        $answer = $client()->testConnection();
        same(100, $answer->code, 'bare connectivity check');
        $answer = $client()->send($receipt(), test: true);
        same(140, $answer->code, 'test mode: decrypted and checked, not stored');
        check(!$answer->isAccepted() && $answer->nuid === null, 'nothing accepted in test mode');
    });

    $t->test($names[1], static function () use ($client, $receipt, $runId): void {
        $kassa = $client();
        $sale = $receipt();
        $answer = $kassa->send($sale, rid: "php-sale-$runId");
        same(800, $answer->code, 'accepted with the RID recorded');
        check($answer->isAccepted() && $answer->hasRequest(), 'accepted');
        check(preg_match('/^\d{23}$/', (string) $answer->nuid) === 1 && preg_match('/^\d{23}$/', (string) $answer->qnuid) === 1, 'nuid/qnuid of 23 digits');
        $status = $kassa->waitFiscalized($answer->nuid, $answer->qnuid, timeout: 30);
        check($status->isFiscalized(), "fiscalized, got check_status {$status->checkStatus}: {$status->errorText}");
        same([$answer->nuid, $answer->qnuid, "php-sale-$runId"], [$status->nuid, $status->qnuid, $status->rid], 'the request named');
        same([1, TaxSystem::SIMPLIFIED_INCOME, $sale->total(), null], [$status->settlementSign, $status->taxSystem, $status->total, $status->errorCode], 'receipt data');
        check(preg_match('/^\d{16}$/', (string) $status->fnSerial) === 1, 'FN serial of 16 digits');
        check(preg_match('/^\d{16}$/', (string) $status->kktRegNumber) === 1, 'registration number of 16 digits');
        check($status->fiscalDocumentNumber > 0 && preg_match('/^\d+$/', (string) $status->fiscalSign) === 1, 'FD number and fiscal sign');
        check($status->shift > 0 && $status->numberInShift > 0 && $status->fiscalTime > 1700000000, 'shift, number in shift, time');
        $qr = qrFields((string) $status->qrCode);
        same(sprintf('%d.%02d', intdiv($sale->total(), 100), $sale->total() % 100), $qr['s'], 'QR s= total in roubles');
        same([$status->fnSerial, (string) $status->fiscalDocumentNumber, (string) (int) $status->fiscalSign, '1'], [$qr['fn'], $qr['i'], $qr['fp'], $qr['n']], 'QR fn, i, fp, n');
        check(preg_match('/^\d{8}T\d{4}$/', $qr['t']) === 1, 'QR t=');
        same("\x89PNG", substr((string) $status->qrPng(), 0, 4), 'QR picture is a PNG');
        same($status->raw, $kassa->status($answer->nuid, $answer->qnuid)->raw, 'a final status reads the same again');
        // read by the pytest driver, which compares it with the register's journal
        echo 'FISCALIZED ' . json_encode(['nuid' => $status->nuid, 'fd' => $status->fiscalDocumentNumber, 'fp' => $status->fiscalSign, 'fn' => $status->fnSerial, 'total' => $status->total, 'qr' => $status->qrCode]) . "\n";
    });

    $t->test($names[2], static function () use ($client, $receipt, $runId): void {
        $rid = "php-rid-$runId";
        $first = $client()->send($receipt(), rid: $rid);
        same(800, $first->code, 'first send');
        $again = $client()->send($receipt(), rid: $rid);
        check($again->isDuplicate() && !$again->isAccepted(), "duplicate, got {$again->code}");
        same([409, $first->nuid, $first->qnuid, true], [$again->httpStatus, $again->nuid, $again->qnuid, $again->sameRequest], 'the first request, same receipt');
        $other = $client()->send($receipt(20000, 'Black tea'), rid: $rid);
        same([409, $first->nuid, false], [$other->code, $other->nuid, $other->sameRequest], 'another receipt under the same RID');
        check($client()->waitFiscalized($again->nuid, $again->qnuid, timeout: 30)->isFiscalized(), 'the one request fiscalized');
        $e = throws(\InvalidArgumentException::class, static fn () => $client()->send($receipt(), rid: 'not a rid!'));
        check(str_contains($e->getMessage(), '1 to 64 characters'), 'an invalid RID is refused before sending');
    });

    $t->test($names[3], static function () use ($url, $kassaid, $token, $receipt): void {
        $wrong = 'wrong-' . $token;
        $e = throws(AuthError::class, static fn () => (new Client($url, $kassaid, $wrong))->send($receipt()));
        same([320, 200], [$e->getCode(), $e->httpStatus], 'code 320, HTTP 200');
        check($e->getMessage() !== '' && !str_contains($e->getMessage(), $wrong), 'a message, without the token');
        check(!$e->isRetryable(), 'not retryable');
        $e = throws(AuthError::class, static fn () => (new Client($url, '99999999999999999999', $token))->send($receipt()));
        same(300, $e->getFrontCode(), 'unknown kassa');
    });

    $t->test($names[4], static function () use ($client, $kassaid, $token, $receipt): void {
        $kassa = $client();
        $keys = $kassa->keys();
        $wire = ['kassaid' => $kassaid, 'kassatoken' => $token] + $receipt()->toArray();
        $body = Envelope::seal($wire, $keys, $kassaid, $token, null, true);
        same(140, $kassa->sendBody($body)->code, 'the untouched body');
        $dde = base64_decode($body['dde'], true);
        $dde[100] = chr(ord($dde[100]) ^ 0x01);
        $e = throws(EnvelopeError::class, static fn () => $kassa->sendBody(['dde' => base64_encode($dde)] + $body));
        same(130, $e->getCode(), 'one flipped bit: HMAC');
        $other = LocalKeys::make();
        $layer2 = Envelope::encodeJson(Envelope::layer2('x', 'y', $kassaid, $token));
        [$aab, $dde] = Envelope::encryptLayer($layer2, $other->public->rsaSecond, $keys->hmacSecond);
        $e = throws(EnvelopeError::class, static fn () => $kassa->sendBody(['aab' => $aab, 'dde' => $dde, 'test' => '0']));
        same(120, $e->getCode(), 'another RSA key');
    });

    $t->test($names[5], static function () use ($client, $kassaid, $token, $receipt): void {
        $kassa = $client();
        $wire = ['kassaid' => $kassaid, 'kassatoken' => $token] + $receipt()->toArray();
        $wire['products_arr'][0]['summa'] += 100;
        $wire['itog_arr']['itog_cheka'] += 100;
        $wire['oplata_arr']['money_electro'] += 100;
        $e = throws(ReceiptInvalid::class, static fn () => $kassa->sendBody(Envelope::seal($wire, $kassa->keys(), $kassaid, $token)));
        same([60, false, 'products_arr[0].summa'], [$e->getCode(), $e->isLocal(), $e->path], 'the server\'s code 60 and path');
        check(str_contains($e->reason, 'expected 30000'), $e->reason);
        $e = throws(ReceiptInvalid::class, static fn () => Receipt::fromArray($wire));
        same('products_arr[0].summa', $e->path, 'the local check finds the same field');
    });

    $t->test($names[6], static function () use ($url, $kassaid, $token, $client, $receipt): void {
        $published = json_decode((string) file_get_contents("$url/v1/keys"), true);
        $keys = PublicKeys::fromJson($published);
        same(140, $client(['pins' => $keys->fingerprints])->send($receipt(), test: true)->code, 'the right pins');
        $e = throws(KeysError::class, static fn () => $client(['pins' => ['sha256//' . base64_encode(str_repeat("\0", 32))]])->send($receipt(), test: true));
        check(str_contains($e->getMessage(), 'do not match the pinned fingerprints'), $e->getMessage());
        same(140, $client(['keys' => $keys])->send($receipt(), test: true)->code, 'keys given, not fetched');
        throws(StatusNotFound::class, static fn () => $client()->status(str_repeat('1', 23), str_repeat('2', 23)));
        $ignoreArgs = ini_set('zend.exception_ignore_args', '0');
        try {
            $e = throws(TransportError::class, static fn () => (new Client('http://127.0.0.1:9', $kassaid, $token, ['keys' => $keys, 'timeout' => 5]))->send($receipt()));
        } finally {
            ini_set('zend.exception_ignore_args', (string) $ignoreArgs);
        }
        check($e->isRetryable() && !str_contains($e->getMessage(), $token), 'retryable, no token in the message');
        $libraryFrames = array_filter($e->getTrace(), static fn (array $f): bool => str_starts_with($f['class'] ?? '', 'Kassagate\\') && !str_starts_with($f['class'], 'Kassagate\\Tests'));
        check(count($libraryFrames) >= 3, 'the trace holds the library\'s frames');
        if (PHP_VERSION_ID >= 80200) { // #[SensitiveParameter]
            check(!str_contains(print_r($libraryFrames, true), $token), 'no token in the arguments of the library\'s frames');
        }
        check(!str_contains(print_r($client(), true), $token), 'print_r of a client shows no token');
    });

    $t->test($names[7], static function () use ($pendingUrl, $pendingKassaid, $pendingToken, $receipt): void {
        $kassa = new Client($pendingUrl, $pendingKassaid, $pendingToken);
        $answer = $kassa->send($receipt(), rid: 'php-pending-' . bin2hex(random_bytes(4)));
        same(800, $answer->code, 'accepted');
        $status = $kassa->status($answer->nuid, $answer->qnuid);
        check($status->isPending() && !$status->isFinal(), "pending, got check_status {$status->checkStatus}");
        same([Status::PENDING, null, null, null, null], [$status->checkStatus, $status->errorCode, $status->fiscalDocumentNumber, $status->fiscalSign, $status->qrCode], 'no error, no fiscal data yet');
        check(in_array($status->raw['error_code'] ?? null, ['000', '', null], true), 'no error code on the wire');
        $started = microtime(true);
        $e = throws(WaitTimeout::class, static fn () => $kassa->waitFiscalized($answer->nuid, $answer->qnuid, timeout: 1.0, interval: 0.1));
        check(microtime(true) - $started < 5, 'the wait ends at its timeout');
        check($e->last !== null && $e->last->isPending() && $e->last->nuid === $answer->nuid, 'the last status seen is pending');
    });
};
