% rebase('base')
<section class="card narrow">
  <h1>Sign in</h1>
  <p>This service is protected by a password (<code>web.password</code> in its config.yaml).</p>
  % if error:
  <p class="flash flash-error" role="alert">{{error}}</p>
  % end
  <form method="post" action="/signin">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
    <button type="submit" class="primary">Sign in</button>
  </form>
</section>
