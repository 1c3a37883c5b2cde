<?php

declare(strict_types=1);

/*
 * PSR-4 autoloader for installs without Composer (copy this directory, then
 * `require __DIR__ . '/kassagate-php/autoload.php';`). Composer users load
 * `vendor/autoload.php` instead.
 */

spl_autoload_register(static function (string $class): void {
    $prefix = 'Kassagate\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
